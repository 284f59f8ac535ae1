"""The PostgreSQL schema, as numbered migrations applied in order, each once.

``schema_migrations`` records which have run. ``migrate`` takes a transaction-scoped advisory
lock first, so processes that start together apply each migration once; a migration and its
record commit together, so an interrupted one is simply applied again. A database whose
schema is newer than this code knows is refused (``SchemaError``): an older citebot must not
write rows a newer schema reads differently.

Every table is keyed by ``collection`` first and every statement names its collection, so
that Citus can distribute the tables on that column unchanged (docs/SCALING.md). Times of
feeds and the intake log are Unix seconds, as in the embedded store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from index.errors import SchemaError
from index.store.postgres import insights, lexemes
from index.store.schema import Status

_INITIAL = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE meta(key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE collections(
    collection text PRIMARY KEY, generation bigint NOT NULL DEFAULT 0, model text, dim integer,
    passages bigint NOT NULL DEFAULT 0, text_tokens bigint NOT NULL DEFAULT 0,
    title_tokens bigint NOT NULL DEFAULT 0);
CREATE TABLE articles(
    collection text NOT NULL, id text NOT NULL, seq bigint GENERATED ALWAYS AS IDENTITY,
    title text NOT NULL, source text, url text, canonical_url text, published text,
    author text, content_hash text NOT NULL, paragraph_count integer NOT NULL,
    added_at text NOT NULL, added_by text,
    PRIMARY KEY(collection, id));
CREATE INDEX articles_url ON articles(collection, canonical_url);
CREATE INDEX articles_hash ON articles(collection, content_hash);
CREATE INDEX articles_recent ON articles(collection, added_at DESC, seq DESC);
CREATE TABLE paragraphs(
    collection text NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY, article_id text NOT NULL,
    number integer NOT NULL, text text NOT NULL, lexemes tsvector NOT NULL,
    text_tokens integer NOT NULL, title_tokens integer NOT NULL,
    PRIMARY KEY(collection, id),
    FOREIGN KEY(collection, article_id) REFERENCES articles(collection, id) ON DELETE CASCADE);
CREATE INDEX paragraphs_article ON paragraphs(collection, article_id, number);
CREATE INDEX paragraphs_lexemes ON paragraphs USING gin(lexemes);
CREATE TABLE sentences(
    collection text NOT NULL, paragraph_id bigint NOT NULL, idx integer NOT NULL,
    start integer NOT NULL, "end" integer NOT NULL, speaker text,
    PRIMARY KEY(collection, paragraph_id, idx),
    FOREIGN KEY(collection, paragraph_id) REFERENCES paragraphs(collection, id)
        ON DELETE CASCADE);
CREATE TABLE chunks(
    collection text NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY,
    paragraph_id bigint NOT NULL, start integer NOT NULL, "end" integer NOT NULL,
    live boolean NOT NULL DEFAULT true, embedding vector NOT NULL,
    PRIMARY KEY(collection, id),
    FOREIGN KEY(collection, paragraph_id) REFERENCES paragraphs(collection, id)
        ON DELETE CASCADE);
CREATE INDEX chunks_paragraph ON chunks(collection, paragraph_id);
CREATE INDEX chunks_live ON chunks(collection, live);
CREATE TABLE lexicon(
    collection text NOT NULL, term text NOT NULL, passages bigint NOT NULL,
    PRIMARY KEY(collection, term));
CREATE TABLE feedback(
    collection text NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY, answer_id text,
    user_id text, question text NOT NULL, quotes text NOT NULL, vote smallint NOT NULL,
    created_at text NOT NULL,
    PRIMARY KEY(collection, id), UNIQUE(collection, answer_id, user_id));
CREATE TABLE feeds(
    collection text NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY, url text NOT NULL,
    title text, channel_id bigint, added_by text, added_at double precision NOT NULL,
    etag text, last_modified text, body_hash text,
    next_poll_at double precision NOT NULL DEFAULT 0, failures integer NOT NULL DEFAULT 0,
    paused text, last_error text, last_polled_at double precision,
    last_new_at double precision, articles integer NOT NULL DEFAULT 0,
    PRIMARY KEY(collection, id), UNIQUE(collection, url));
CREATE INDEX feeds_id ON feeds(id);
CREATE INDEX feeds_due ON feeds(next_poll_at) WHERE paused IS NULL;
CREATE TABLE feed_seen(
    collection text NOT NULL, feed_id bigint NOT NULL, key text NOT NULL, article_id text,
    fingerprint text NOT NULL, attempts integer NOT NULL DEFAULT 0, error text,
    seen_at double precision NOT NULL,
    PRIMARY KEY(collection, feed_id, key),
    FOREIGN KEY(collection, feed_id) REFERENCES feeds(collection, id) ON DELETE CASCADE);
CREATE TABLE watched_channels(
    collection text NOT NULL, channel_id bigint NOT NULL, added_by text,
    added_at double precision NOT NULL, PRIMARY KEY(collection, channel_id));
CREATE TABLE intake(
    collection text NOT NULL, article_id text NOT NULL, origin text NOT NULL,
    added_at double precision NOT NULL, PRIMARY KEY(collection, article_id));
CREATE INDEX intake_age ON intake(added_at);
"""

_CONVERSATIONS = """
CREATE TABLE conversations(
    collection text NOT NULL, id text NOT NULL, created_at double precision NOT NULL,
    updated_at double precision NOT NULL, PRIMARY KEY(collection, id));
CREATE INDEX conversations_idle ON conversations(updated_at);
CREATE TABLE conversation_turns(
    collection text NOT NULL, conversation_id text NOT NULL, n integer NOT NULL,
    at double precision NOT NULL, data text NOT NULL,
    PRIMARY KEY(collection, conversation_id, n),
    FOREIGN KEY(collection, conversation_id) REFERENCES conversations(collection, id)
        ON DELETE CASCADE);
CREATE TABLE conversation_keys(
    collection text NOT NULL, key text NOT NULL, conversation_id text NOT NULL,
    PRIMARY KEY(collection, key),
    FOREIGN KEY(collection, conversation_id) REFERENCES conversations(collection, id)
        ON DELETE CASCADE);
CREATE INDEX conversation_keys_owner ON conversation_keys(collection, conversation_id);
"""

_RATES = """
CREATE TABLE rate_uses(kind text NOT NULL, key bigint NOT NULL, at double precision NOT NULL);
CREATE INDEX rate_uses_key ON rate_uses(kind, key, at);
"""


@dataclass(frozen=True)
class Migration:
    """One step of the schema: its number, what it does, its SQL, and what it does that
    SQL cannot (rows written again by this code), in the same transaction."""

    version: int
    name: str
    sql: str
    run: Callable[[psycopg.Connection], None] | None = None


# HNSW lost recall on near-copies of passages (index/store/postgres/vector_index.py); the
# IVFFlat index that replaces it is trained on the vectors, so it is built by the first
# process that opens the database, not here
_NO_HNSW = """
DO $$
DECLARE found record;
BEGIN
    FOR found IN SELECT indexname FROM pg_indexes
                 WHERE tablename = 'chunks' AND indexname LIKE 'chunks\\_hnsw\\_%' LOOP
        EXECUTE format('DROP INDEX %I', found.indexname);
    END LOOP;
END $$;
"""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "articles, passages, vectors (pgvector), lexicon, votes, feeds", _INITIAL),
    Migration(2, "conversations, their turns and keys", _CONVERSATIONS),
    Migration(3, "rate limits shared by every process (ask cooldown, add quota)", _RATES),
    Migration(4, "insights: a switch per collection, the questions kept", insights.SCHEMA),
    Migration(5, "lexemes stemmed and counted as FTS5 does (issue 23)", "", lexemes.restem),
    Migration(6, "postings: BM25 candidates ranked from their stems' rows", "",
              lexemes.create_postings),
    Migration(7, "a letter's combining accents read as FTS5 reads them", "",
              lexemes.restem_accented),
    Migration(8, "words split where FTS5 splits them (emoji, private-use characters)", "",
              lexemes.restem_fts5_words),
    Migration(9, "vectors searched by an IVFFlat index, built as the vectors grow (issue 23)",
              _NO_HNSW),
)
LATEST = MIGRATIONS[-1].version
LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('citebot:migrate', 0))"


def status(conn: psycopg.Connection) -> Status[Migration]:
    """The schema version of the database ``conn`` is connected to."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    version = 0
    if exists and exists[0]:
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        version = int(row[0]) if row else 0
    return Status(version, LATEST, tuple(m for m in MIGRATIONS if m.version > version))


def refuse_newer(found: Status) -> None:
    """Raise SchemaError if the database was migrated by a newer citebot."""
    if found.too_new:
        raise SchemaError(
            f"The database's schema is at version {found.version}, newer than this citebot "
            f"understands (version {found.latest}). Upgrade citebot on this machine to the "
            "version that migrated the database, then start it again; nothing was changed.")


def migrate(conn: psycopg.Connection) -> list[Migration]:
    """Apply the migrations the database lacks, each in its own transaction; those applied."""
    applied: list[Migration] = []
    with conn.transaction():
        conn.execute(LOCK)  # processes starting together wait here, then find nothing to do
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations(version integer PRIMARY "
                     "KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
    while True:
        with conn.transaction():
            conn.execute(LOCK)
            found = status(conn)
            refuse_newer(found)
            if not found.pending:
                return applied
            step = found.pending[0]
            if step.sql:
                conn.execute(step.sql)  # several statements: allowed without parameters
            if step.run is not None:
                step.run(conn)
            conn.execute("INSERT INTO schema_migrations(version, name) VALUES (%s, %s)",
                         (step.version, step.name))
        applied.append(step)
