"""SQLite, the source of truth: articles, paragraphs, sentences, speakers, chunk vectors and the
FTS5 table for BM25. One database for every collection; every query names its collection.

Each thread gets its own connection (WAL mode, see ``index.store.embedded.sqlite_tx``), so
readers never wait for a writer.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from index.errors import NotFoundError
from index.models import Article, Passage, PreparedArticle, Sentence
from index.store import bm25, lexical
from index.store.embedded import sqlite_migrations
from index.store.embedded.failures import storage_error
from index.store.embedded.sqlite_tx import Connections
from index.store.lexical import fts_name
from index.store.protocol import Vote
from index.text import content_words, porter_stem

__all__ = ["SQLiteStore", "fts_name", "utcnow"]

_ARTICLE_COLS = (
    "a.id, a.collection, a.title, a.source, a.url, a.published, a.author, a.content_hash, "
    "a.paragraph_count, a.added_at, a.added_by"
)


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SQLiteStore(Connections):
    """Articles and passages of every collection in one SQLite database."""

    def __init__(self, path: Path, *, lexical_max_df: int = 0, schema: bool = True) -> None:
        """``schema=False`` leaves creating the tables to a later ``create_schema()``."""
        super().__init__(path)
        self.lexical_max_df = lexical_max_df
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if schema:
                self.create_schema()
        except (OSError, sqlite3.Error) as exc:
            raise storage_error(exc, "open the database", path) from exc

    def create_schema(self) -> None:
        """Bring the schema up to date (``index.store.embedded.sqlite_migrations``; SchemaError when
        the database is newer than this citebot)."""
        sqlite_migrations.migrate(self)

    # -- collections ---------------------------------------------------------------------
    def collection_state(self, collection: str) -> tuple[int, str | None, int | None]:
        """(generation, model, dim) of a collection; (0, None, None) when it is new."""
        row = self.db().execute(
            "SELECT generation, model, dim FROM collections WHERE name = ?", (collection,)
        ).fetchone()
        return (row[0], row[1], row[2]) if row else (0, None, None)

    def bump(self, db: sqlite3.Connection, collection: str, model: str, dim: int) -> int:
        """Advance a collection's generation inside a write transaction; returns the new one."""
        db.execute(
            "INSERT INTO collections(name, generation, model, dim) VALUES (?, 1, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET generation = generation + 1, model = ?, dim = ?",
            (collection, model, dim, model, dim),
        )
        return int(db.execute(
            "SELECT generation FROM collections WHERE name = ?", (collection,)).fetchone()[0])

    def collections(self) -> list[str]:
        """The collections holding at least one article, by name."""
        rows = self.db().execute(
            "SELECT name FROM collections c WHERE EXISTS (SELECT 1 FROM articles a "
            "WHERE a.collection = c.name) ORDER BY name").fetchall()
        return [r[0] for r in rows]

    # -- articles ------------------------------------------------------------------------
    def find_existing(
        self, collection: str, article_id: str, canonical_url: str | None, content_hash: str
    ) -> Article | None:
        """An article that is the same as this one: same id, canonical URL or content."""
        row = self.db().execute(
            f"SELECT {_ARTICLE_COLS} FROM articles a WHERE a.collection = ? AND (a.id = ? "
            "OR (a.canonical_url IS NOT NULL AND a.canonical_url = ?) OR a.content_hash = ?) "
            "ORDER BY a.id = ? DESC LIMIT 1",
            (collection, article_id, canonical_url, content_hash, article_id),
        ).fetchone()
        return Article(*row) if row else None

    def insert_article(
        self, db: sqlite3.Connection, collection: str, article_id: str, art: PreparedArticle,
        vectors: np.ndarray, added_by: str | None,
    ) -> tuple[Article, list[int]]:
        """Insert an article with its paragraphs, sentences and chunks; returns the chunk ids."""
        added_at = utcnow()
        cur = db.execute(
            "INSERT INTO articles(id, collection, title, source, url, canonical_url, published, "
            "author, content_hash, paragraph_count, added_at, added_by) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (article_id, collection, art.title, art.source, art.url, art.canonical_url,
             art.published, art.author, art.content_hash, len(art.paragraphs), added_at,
             added_by),
        )
        pk = cur.lastrowid
        fts = self.fts_table(db, collection)
        para_ids: list[int] = []
        for number, para in enumerate(art.paragraphs, 1):
            pid = db.execute(
                "INSERT INTO paragraphs(article_pk, number, text) VALUES (?, ?, ?)",
                (pk, number, para.text)).lastrowid
            assert pid is not None
            para_ids.append(pid)
            db.executemany(
                'INSERT INTO sentences(paragraph_id, idx, start, "end", speaker) '
                "VALUES (?,?,?,?,?)",
                [(pid, i, s.start, s.end, s.speaker) for i, s in enumerate(para.sentences)])
            db.execute(f"INSERT INTO {fts}(rowid, text, title) VALUES (?,?,?)",
                       (pid, para.text, art.title))
        chunk_ids = self.insert_chunks(
            db, collection, [(para_ids[c.paragraph], c.start, c.end) for c in art.chunks],
            vectors, live=True)
        article = Article(article_id, collection, art.title, art.source, art.url, art.published,
                          art.author, art.content_hash, len(art.paragraphs), added_at, added_by)
        return article, chunk_ids

    def insert_chunks(
        self, db: sqlite3.Connection, collection: str, spans: Sequence[tuple[int, int, int]],
        vectors: np.ndarray, *, live: bool,
    ) -> list[int]:
        ids: list[int] = []
        for (pid, start, end), vec in zip(spans, vectors, strict=True):
            cid = db.execute(
                'INSERT INTO chunks(paragraph_id, collection, start, "end", live, vector) '
                "VALUES (?,?,?,?,?,?)",
                (pid, collection, start, end, int(live),
                 np.asarray(vec, np.float32).tobytes())).lastrowid
            assert cid is not None
            ids.append(cid)
        return ids

    def article_exists(self, db: sqlite3.Connection, collection: str, article_id: str) -> bool:
        return db.execute("SELECT 1 FROM articles WHERE collection = ? AND id = ?",
                          (collection, article_id)).fetchone() is not None

    # -- staged rows of a rebuild ----------------------------------------------------------
    _DISCARD_STAGED = "DELETE FROM chunks WHERE collection = ? AND live = 0"

    def discard_staged(self, collection: str) -> int:
        """Drop the rows a rebuild staged (``live = 0``); how many."""
        with self.write() as db:
            return db.execute(self._DISCARD_STAGED, (collection,)).rowcount

    def try_discard_staged(self, collection: str) -> int | None:
        """``discard_staged`` unless another writer holds the database (None: not now)."""
        return self.try_write(self._DISCARD_STAGED, (collection,))

    def promote_staged(self, db: sqlite3.Connection, collection: str) -> None:
        """Make a rebuild's staged rows the live ones (inside the caller's transaction)."""
        db.execute("DELETE FROM chunks WHERE collection = ? AND live = 1", (collection,))
        db.execute("UPDATE chunks SET live = 1 WHERE collection = ? AND live = 0", (collection,))

    def paragraphs_alive(self, db: sqlite3.Connection, pids: Sequence[int]) -> bool:
        """Whether every one of these paragraphs still exists (not replaced nor removed)."""
        found = db.execute(
            "SELECT count(*) FROM paragraphs WHERE id IN ({})".format(",".join("?" * len(pids))),
            list(pids)).fetchone()[0]
        return bool(found == len(pids))

    def unstaged_article_ids(self, collection: str) -> list[str]:
        """Articles with no staged row (an article's rows are staged in one transaction)."""
        rows = self.db().execute(
            "SELECT a.id FROM articles a WHERE a.collection = ? AND NOT EXISTS "
            "(SELECT 1 FROM paragraphs p JOIN chunks c ON c.paragraph_id = p.id "
            "WHERE p.article_pk = a.pk AND c.live = 0)", (collection,)).fetchall()
        return [str(r[0]) for r in rows]

    def delete_article(self, db: sqlite3.Connection, collection: str, article_id: str) -> list[int]:
        """Delete an article and everything under it; returns the ids of its live chunks."""
        row = db.execute("SELECT pk FROM articles WHERE collection = ? AND id = ?",
                         (collection, article_id)).fetchone()
        if row is None:
            raise NotFoundError(f"No article {article_id!r} in collection {collection!r}.")
        chunk_ids = [r[0] for r in db.execute(
            "SELECT c.id FROM chunks c JOIN paragraphs p ON p.id = c.paragraph_id "
            "WHERE p.article_pk = ? AND c.live = 1", (row[0],))]
        db.execute(f"DELETE FROM {self.fts_table(db, collection)} WHERE rowid IN "
                   "(SELECT id FROM paragraphs WHERE article_pk = ?)", (row[0],))
        db.execute("DELETE FROM articles WHERE pk = ?", (row[0],))
        return chunk_ids

    def get_article(self, collection: str, article_id: str) -> Article:
        row = self.db().execute(
            f"SELECT {_ARTICLE_COLS} FROM articles a WHERE a.collection = ? AND a.id = ?",
            (collection, article_id)).fetchone()
        if row is None:
            raise NotFoundError(f"No article {article_id!r} in collection {collection!r}.")
        return Article(*row)

    def list_articles(
        self, collection: str, *, limit: int = 1000, offset: int = 0, search: str | None = None
    ) -> list[Article]:
        """Articles newest first, optionally those whose title or id contains ``search``."""
        sql = f"SELECT {_ARTICLE_COLS} FROM articles a WHERE a.collection = ?"
        args: list[object] = [collection]
        if search:
            sql += " AND (a.title LIKE ? ESCAPE '\\' OR a.id LIKE ? ESCAPE '\\')"
            pat = "%" + re.sub(r"([\\%_])", r"\\\1", search) + "%"
            args += [pat, pat]
        sql += " ORDER BY a.added_at DESC, a.pk DESC LIMIT ? OFFSET ?"
        rows = self.db().execute(sql, (*args, limit, offset)).fetchall()
        return [Article(*r) for r in rows]

    def counts(self, collection: str) -> dict[str, int]:
        db = self.db()
        return {
            "articles": db.execute("SELECT count(*) FROM articles WHERE collection = ?",
                                   (collection,)).fetchone()[0],
            "paragraphs": db.execute(
                "SELECT count(*) FROM paragraphs p JOIN articles a ON a.pk = p.article_pk "
                "WHERE a.collection = ?", (collection,)).fetchone()[0],
            "chunks": db.execute("SELECT count(*) FROM chunks WHERE collection = ? AND live = 1",
                                 (collection,)).fetchone()[0],
        }

    # -- passages and vectors ------------------------------------------------------------
    def passages(self, collection: str, ids: Sequence[int]) -> dict[int, Passage]:
        """Passages by paragraph id, restricted to one collection, with their sentences."""
        if not ids:
            return {}
        db = self.db()
        marks = ",".join("?" * len(ids))
        # "+a.collection": look the few paragraphs up by id, never scan the collection's articles
        rows = db.execute(
            f"SELECT p.id, p.number, p.text, {_ARTICLE_COLS} FROM paragraphs p "
            f"JOIN articles a ON a.pk = p.article_pk WHERE +a.collection = ? AND p.id IN ({marks})",
            (collection, *ids)).fetchall()
        sentences: dict[int, list[Sentence]] = {}
        for pid, start, end, speaker in db.execute(
            f'SELECT paragraph_id, start, "end", speaker FROM sentences '
            f"WHERE paragraph_id IN ({marks}) ORDER BY paragraph_id, idx", tuple(ids)):
            sentences.setdefault(pid, []).append(Sentence(start, end, speaker))
        return {
            r[0]: Passage(r[0], Article(*r[3:]), r[1], r[2], tuple(sentences.get(r[0], ())))
            for r in rows
        }

    def article_paragraph_ids(self, collection: str, article_id: str) -> list[int]:
        return [r[0] for r in self.db().execute(
            "SELECT p.id FROM paragraphs p JOIN articles a ON a.pk = p.article_pk "
            "WHERE a.collection = ? AND a.id = ? ORDER BY p.number", (collection, article_id))]

    def chunk_paragraphs(self, collection: str, ids: Sequence[int]) -> dict[int, int]:
        """Paragraph id of each of these chunks that is live in the collection."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return dict(self.db().execute(
            f"SELECT id, paragraph_id FROM chunks WHERE collection = ? AND live = 1 "
            f"AND id IN ({marks})", (collection, *ids)).fetchall())

    def live_count(self, collection: str) -> int:
        return int(self.db().execute(
            "SELECT count(*) FROM chunks WHERE collection = ? AND live = 1",
            (collection,)).fetchone()[0])

    def live_chunk_ids(self, collection: str) -> np.ndarray:
        rows = self.db().execute(
            "SELECT id FROM chunks WHERE collection = ? AND live = 1", (collection,)).fetchall()
        return np.fromiter((r[0] for r in rows), np.int64, len(rows))

    def chunk_vectors(
        self, collection: str, ids: Sequence[int] | None = None, *, paragraph_ids:
        Sequence[int] | None = None, dim: int, live: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(chunk ids, paragraph ids, vectors) of live (or staged) chunks, all or selected."""
        # Selected chunks are found by id or paragraph, not by scanning the collection's index
        # (the "+" keeps SQLite's planner off it); all of them use that index.
        plus = "" if ids is None and paragraph_ids is None else "+"
        sql = (f"SELECT id, paragraph_id, vector FROM chunks WHERE {plus}collection = ? "
               f"AND {plus}live = ?")
        args: list[object] = [collection, int(live)]
        for column, values in (("id", ids), ("paragraph_id", paragraph_ids)):
            if values is not None:
                sql += f" AND {column} IN ({','.join('?' * len(values))})"
                args += list(values)
        rows = self.db().execute(sql, args).fetchall()
        cids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        pids = np.fromiter((r[1] for r in rows), np.int64, len(rows))
        vecs = np.frombuffer(b"".join(r[2] for r in rows), np.float32).reshape(len(rows), dim)
        return cids, pids, vecs

    # -- lexical -------------------------------------------------------------------------
    def lexical_search(
        self, collection: str, question: str, k: int, article_id: str | None = None,
        also: Sequence[int] = (),
    ) -> list[tuple[int, float]]:
        """BM25 over paragraphs: (paragraph id, score), best first (higher is better).

        Candidates are the k best passages by the question's rarer words (``bm25.finders``; or
        every passage of ``article_id``), plus ``also``; each is scored with all of the
        question's words (``index.store.bm25``). Candidates that hold none of them are left out.
        """
        db = self.db()
        fts = fts_name(collection)
        words = content_words(question)
        try:
            if not words or not db.execute("SELECT 1 FROM sqlite_master WHERE name = ?",
                                           (fts,)).fetchone():
                return []
            stats = lexical.collection_stats(db, fts)
            if stats is None:
                return []
            df = lexical.document_counts(db, fts, words, self.lexical_max_df)
            if article_id is not None:
                found = self.article_paragraph_ids(collection, article_id)
            else:
                found = lexical.candidates(db, fts, bm25.finders(df, self.lexical_max_df), k)
            ids = list(dict.fromkeys([*found, *also]))
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            docs = {r[0]: bm25.Doc(r[1], r[2], r[3]) for r in db.execute(
                f"SELECT p.id, p.text, a.title, d.sz FROM paragraphs p JOIN articles a ON "
                f"a.pk = p.article_pk LEFT JOIN {fts}_docsize d ON d.id = p.id "
                f"WHERE +a.collection = ? AND p.id IN ({marks})", (collection, *ids))}
        except sqlite3.OperationalError as exc:
            raise storage_error(exc, "search the passages' words") from exc
        term_df: dict[str, float] = {}
        for word, count in df.items():
            term_df.setdefault(porter_stem(word), count)
        scored = bm25.scores(term_df, docs, stats)
        return sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))

    def fts_table(self, db: sqlite3.Connection, collection: str) -> str:
        """The collection's own FTS5 table (created on first use): one per collection, so a
        large collection never slows another's lexical search."""
        name = fts_name(collection)
        db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING fts5(text, title, "
                   "tokenize='porter unicode61 remove_diacritics 2')")
        return name

    # -- feedback ------------------------------------------------------------------------
    def record_vote(self, vote: Vote) -> None:
        """Keep a vote; the same member's later vote on the same answer replaces it."""
        with self.write() as db:
            db.execute(
                "INSERT INTO feedback(collection, answer_id, user_id, question, quotes, vote, "
                "created_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT(collection, answer_id, user_id) "
                "DO UPDATE SET vote = excluded.vote, created_at = excluded.created_at",
                (vote.collection, vote.answer_id, vote.user_id, vote.question,
                 json.dumps(vote.quotes), vote.vote, utcnow()))

    # -- the store's identity and health ------------------------------------------------
    def store_id(self) -> str | None:
        """The id this database was given; None before it has one (or any tables)."""
        db = self.db()
        if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
                          ).fetchone():
            return None
        row = db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
        return str(row[0]) if row else None

    def holds_nothing(self) -> bool:
        """Whether no collection or article is stored (or there are no tables yet)."""
        db = self.db()
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return not any(db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()
                       for t in ("collections", "articles") if t in tables)

    def claim_store_id(self, proposed: str) -> str:
        """Give the database ``proposed`` as its id unless it has one; the id it has."""
        with self.write() as db:
            db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('store_id', ?)",
                       (proposed,))
            return str(db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0])

    def quick_check(self) -> list[str]:
        """What SQLite's quick_check finds wrong with the file's structure ([] when nothing)."""
        rows = self.db().execute("PRAGMA quick_check(20)").fetchall()
        return [str(r[0]) for r in rows if r[0] != "ok"]

    def meta_get(self, key: str) -> str | None:
        row = self.db().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def meta_set(self, key: str, value: str) -> None:
        with self.write() as db:
            db.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))
