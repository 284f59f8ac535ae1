"""The embedded store's schema, as numbered migrations applied in order, each once: the same
mechanism as PostgreSQL's (``index.store.postgres.migrations``).

``schema_migrations`` in the database records which steps have run. Each step and its record
commit in one write transaction (``BEGIN IMMEDIATE``), so processes that open the store
together apply each step once, and an interrupted step is simply applied again. A database
whose schema is newer than this code knows is refused (``SchemaError``): an older citebot must
not write rows a newer schema reads differently.

Databases made before the schema had versions record none (version 0): every step is written
so that it also completes such a database, whatever it already holds (``IF NOT EXISTS``,
columns added only when missing). A change to the schema is a new step at the end, never an
edit of a released one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from index.errors import SchemaError
from index.store.embedded import conversation_tables, feed_tables, insight_tables
from index.store.embedded.sqlite_tx import Connections
from index.store.lexical import fts_name
from index.store.schema import Status

CORE = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS collections(
    name TEXT PRIMARY KEY, generation INTEGER NOT NULL DEFAULT 0, model TEXT, dim INTEGER);
CREATE TABLE IF NOT EXISTS articles(
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL, collection TEXT NOT NULL, title TEXT NOT NULL, source TEXT, url TEXT,
    canonical_url TEXT, published TEXT, author TEXT, content_hash TEXT NOT NULL,
    paragraph_count INTEGER NOT NULL, added_at TEXT NOT NULL, added_by TEXT,
    UNIQUE(collection, id));
CREATE INDEX IF NOT EXISTS articles_url ON articles(collection, canonical_url);
CREATE INDEX IF NOT EXISTS articles_hash ON articles(collection, content_hash);
CREATE TABLE IF NOT EXISTS paragraphs(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_pk INTEGER NOT NULL REFERENCES articles(pk) ON DELETE CASCADE,
    number INTEGER NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS paragraphs_article ON paragraphs(article_pk, number);
CREATE TABLE IF NOT EXISTS sentences(
    paragraph_id INTEGER NOT NULL REFERENCES paragraphs(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, speaker TEXT,
    PRIMARY KEY(paragraph_id, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    paragraph_id INTEGER NOT NULL REFERENCES paragraphs(id) ON DELETE CASCADE,
    collection TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    live INTEGER NOT NULL DEFAULT 1, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_collection ON chunks(collection, live, id);
CREATE INDEX IF NOT EXISTS chunks_paragraph ON chunks(paragraph_id);
CREATE TABLE IF NOT EXISTS feedback(
    id INTEGER PRIMARY KEY AUTOINCREMENT, collection TEXT NOT NULL, question TEXT NOT NULL,
    quotes TEXT NOT NULL, vote INTEGER NOT NULL, user_id TEXT, created_at TEXT NOT NULL);
"""

RECORD = """CREATE TABLE IF NOT EXISTS schema_migrations(
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL
        DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))"""


def script(sql: str) -> Callable[[sqlite3.Connection], None]:
    """A step that runs ``sql``'s statements one by one (``executescript`` would commit the
    step's transaction before it ends)."""
    def apply(db: sqlite3.Connection) -> None:
        statement = ""
        for line in sql.strip().splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                db.execute(statement)
                statement = ""
    return apply


def _vote_once(db: sqlite3.Connection) -> None:
    # votes kept before answer_id existed stay, each its own row (NULLs are distinct in a
    # UNIQUE index)
    if "answer_id" not in {r[1] for r in db.execute("PRAGMA table_info(feedback)")}:
        db.execute("ALTER TABLE feedback ADD COLUMN answer_id TEXT")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS feedback_once "
               "ON feedback(collection, answer_id, user_id)")


def _fts_per_collection(db: sqlite3.Connection) -> None:
    """The first schema kept every collection's passages in one FTS5 table; later citebots
    read one table per collection and never filled them with the passages already stored,
    so lexical search found nothing of them. Fill them, then drop the old table."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'paragraphs_fts'").fetchone():
        return
    collections = [r[0] for r in db.execute("SELECT DISTINCT collection FROM articles")]
    for collection in collections:
        fts = fts_name(collection)
        db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(text, title, "
                   "tokenize='porter unicode61 remove_diacritics 2')")
        db.execute(
            f"INSERT INTO {fts}(rowid, text, title) SELECT p.id, p.text, a.title "
            "FROM paragraphs p JOIN articles a ON a.pk = p.article_pk WHERE a.collection = ? "
            f"AND NOT EXISTS (SELECT 1 FROM {fts} f WHERE f.rowid = p.id)", (collection,))
    db.execute("DROP TRIGGER IF EXISTS paragraphs_fts_delete")
    db.execute("DROP TABLE paragraphs_fts")


@dataclass(frozen=True)
class Migration:
    """One step of the schema: its number, what it does, and how."""

    version: int
    name: str
    apply: Callable[[sqlite3.Connection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "articles, passages, sentences, vectors, votes", script(CORE)),
    Migration(2, "one vote per member per answer", _vote_once),
    Migration(3, "one lexical (FTS5) table per collection", _fts_per_collection),
    Migration(4, "feeds, seen entries, watched channels, intake log",
              script(feed_tables.SCHEMA)),
    Migration(5, "conversations, their turns and keys", script(conversation_tables.SCHEMA)),
    Migration(6, "insights: a switch per collection, the questions kept",
              script(insight_tables.SCHEMA)),
)
LATEST = MIGRATIONS[-1].version


def status(db: sqlite3.Connection) -> Status[Migration]:
    """The schema version of the database ``db`` is connected to."""
    version = 0
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'").fetchone():
        row = db.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        version = int(row[0]) if row else 0
    return Status(version, LATEST, tuple(m for m in MIGRATIONS if m.version > version))


def refuse_newer(found: Status, where: str) -> None:
    """Raise SchemaError if the database was migrated by a newer citebot."""
    if found.too_new:
        raise SchemaError(
            f"The database {where} has schema version {found.version}, newer than this "
            f"citebot understands (version {found.latest}): a newer citebot upgraded it. "
            "Upgrade citebot on this machine to that version or later, then start it again; "
            "nothing was changed.")


def migrate(sql: Connections) -> list[Migration]:
    """Apply the steps the database lacks, each in its own write transaction; those applied.
    An up-to-date database is only read (a store on read-only media still opens)."""
    where = str(sql.path)
    found = status(sql.db())
    refuse_newer(found, where)
    applied: list[Migration] = []
    while found.pending:
        with sql.write() as db:  # processes opening together wait here, then re-read
            db.execute(RECORD)
            found = status(db)
            refuse_newer(found, where)
            if not found.pending:
                break
            step = found.pending[0]
            step.apply(db)
            db.execute("INSERT INTO schema_migrations(version, name) VALUES (?, ?)",
                       (step.version, step.name))
        applied.append(step)
        found = status(sql.db())
    return applied
