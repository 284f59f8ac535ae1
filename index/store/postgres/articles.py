"""Every statement about articles, paragraphs, sentences, chunk vectors and the lexicon
(document frequencies and lengths for BM25) in PostgreSQL. Each names its collection.

Writers of one collection take turns on its ``collections`` row (``lock``), which every change
also updates (its generation, passage count and token totals), so the lexicon's counts and the
re-check against duplicates are exact; readers never wait for it (MVCC).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import psycopg
from pgvector import Vector

from index.errors import NotFoundError
from index.models import Article, Passage, PreparedArticle, Sentence
from index.store.postgres import lexemes

ARTICLE_COLS = ("a.id, a.collection, a.title, a.source, a.url, a.published, a.author, "
                "a.content_hash, a.paragraph_count, a.added_at, a.added_by")
Conn = psycopg.Connection


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def lock(db: Conn, collection: str) -> tuple[str | None, int | None]:
    """Take the collection's writer turn (inside a transaction); its (model, dim)."""
    db.execute("INSERT INTO collections(collection) VALUES (%s) ON CONFLICT DO NOTHING",
               (collection,))
    row = db.execute("SELECT model, dim FROM collections WHERE collection = %s FOR UPDATE",
                     (collection,)).fetchone()
    assert row is not None
    return row[0], row[1]


def state(db: Conn, collection: str) -> tuple[int, str | None, int | None]:
    """(generation, model, dim); (0, None, None) for a new collection."""
    row = db.execute("SELECT generation, model, dim FROM collections WHERE collection = %s",
                     (collection,)).fetchone()
    return (int(row[0]), row[1], row[2]) if row else (0, None, None)


def bump(db: Conn, collection: str, model: str, dim: int) -> int:
    row = db.execute("UPDATE collections SET generation = generation + 1, model = %s, dim = %s "
                     "WHERE collection = %s RETURNING generation",
                     (model, dim, collection)).fetchone()
    assert row is not None
    return int(row[0])


def find_existing(db: Conn, collection: str, article_id: str, canonical_url: str | None,
                  content_hash: str) -> Article | None:
    """An article that is the same as this one: same id, canonical URL or content."""
    row = db.execute(
        f"SELECT {ARTICLE_COLS} FROM articles a WHERE a.collection = %s AND (a.id = %s "
        "OR (a.canonical_url IS NOT NULL AND a.canonical_url = %s) OR a.content_hash = %s) "
        "ORDER BY a.id = %s DESC, a.seq LIMIT 1",
        (collection, article_id, canonical_url, content_hash, article_id)).fetchone()
    return Article(*row) if row else None


def insert_article(db: Conn, collection: str, article_id: str, art: PreparedArticle,
                   vectors: np.ndarray, added_by: str | None) -> Article:
    """Insert an article with its paragraphs, sentences, chunks and lexicon counts."""
    added_at = utcnow()
    db.execute(
        "INSERT INTO articles(collection, id, title, source, url, canonical_url, published, "
        "author, content_hash, paragraph_count, added_at, added_by) "
        "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
        (collection, article_id, art.title, art.source, art.url, art.canonical_url,
         art.published, art.author, art.content_hash, len(art.paragraphs), added_at, added_by))
    title_tokens = lexemes.tokens(art.title)
    rows = db.execute(
        "INSERT INTO paragraphs(collection, article_id, number, text, lexemes, text_tokens, "
        "title_tokens) SELECT %s, %s, n, t, l::tsvector, c, %s FROM unnest(%s::int[], "
        "%s::text[], %s::text[], %s::int[]) AS u(n, t, l, c) RETURNING number, id",
        (collection, article_id, title_tokens, list(range(1, len(art.paragraphs) + 1)),
         [p.text for p in art.paragraphs],
         [lexemes.tsvector(p.text, art.title) for p in art.paragraphs],
         [lexemes.tokens(p.text) for p in art.paragraphs])).fetchall()
    lexemes.write_postings(db, "p.collection = %s AND p.article_id = %s",
                           (collection, article_id))
    by_number = {int(n): int(pid) for n, pid in rows}
    pids = [by_number[n] for n in range(1, len(art.paragraphs) + 1)]
    with db.cursor() as cur:
        cur.executemany(
            'INSERT INTO sentences(collection, paragraph_id, idx, start, "end", speaker) '
            "VALUES (%s,%s,%s,%s,%s,%s)",
            [(collection, pid, i, s.start, s.end, s.speaker)
             for pid, para in zip(pids, art.paragraphs, strict=True)
             for i, s in enumerate(para.sentences)])
    insert_chunks(db, collection, [(pids[c.paragraph], c.start, c.end) for c in art.chunks],
                  vectors, live=True)
    _count(db, collection, article_id, +1)
    return Article(article_id, collection, art.title, art.source, art.url, art.published,
                   art.author, art.content_hash, len(art.paragraphs), added_at, added_by)


def insert_chunks(db: Conn, collection: str, spans: Sequence[tuple[int, int, int]],
                  vectors: np.ndarray, *, live: bool) -> None:
    with db.cursor() as cur:
        cur.executemany(
            'INSERT INTO chunks(collection, paragraph_id, start, "end", live, embedding) '
            "VALUES (%s,%s,%s,%s,%s,%s)",
            [(collection, pid, start, end, live, np.asarray(vec, np.float32))
             for (pid, start, end), vec in zip(spans, vectors, strict=True)])


def delete_article(db: Conn, collection: str, article_id: str) -> None:
    """Delete an article and everything under it (its lexicon counts too)."""
    if not db.execute("SELECT 1 FROM articles WHERE collection = %s AND id = %s",
                      (collection, article_id)).fetchone():
        raise NotFoundError(f"No article {article_id!r} in collection {collection!r}.")
    _count(db, collection, article_id, -1)
    db.execute("DELETE FROM articles WHERE collection = %s AND id = %s",
               (collection, article_id))


def _count(db: Conn, collection: str, article_id: str, sign: int) -> None:
    """Add (or take away) an article's paragraphs to the lexicon and the collection's totals."""
    db.execute(
        "INSERT INTO lexicon(collection, term, passages) SELECT %s, t, %s * count(*) "
        "FROM paragraphs p, unnest(tsvector_to_array(p.lexemes)) t "
        "WHERE p.collection = %s AND p.article_id = %s GROUP BY t "
        "ON CONFLICT (collection, term) DO UPDATE SET passages = lexicon.passages + "
        "excluded.passages", (collection, sign, collection, article_id))
    db.execute(
        "UPDATE collections c SET passages = c.passages + %s * s.n, "
        "text_tokens = c.text_tokens + %s * s.text, title_tokens = c.title_tokens + %s * s.title "
        "FROM (SELECT count(*) n, coalesce(sum(text_tokens), 0) text, "
        "coalesce(sum(title_tokens), 0) title FROM paragraphs WHERE collection = %s "
        "AND article_id = %s) s WHERE c.collection = %s",
        (sign, sign, sign, collection, article_id, collection))


def get_article(db: Conn, collection: str, article_id: str) -> Article:
    row = db.execute(f"SELECT {ARTICLE_COLS} FROM articles a WHERE a.collection = %s AND "
                     "a.id = %s", (collection, article_id)).fetchone()
    if row is None:
        raise NotFoundError(f"No article {article_id!r} in collection {collection!r}.")
    return Article(*row)


def list_articles(db: Conn, collection: str, *, limit: int, offset: int,
                  search: str | None) -> list[Article]:
    sql = f"SELECT {ARTICLE_COLS} FROM articles a WHERE a.collection = %s"
    args: list[object] = [collection]
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql += " AND (a.title ILIKE %s OR a.id ILIKE %s)"
        args += [pattern, pattern]
    sql += " ORDER BY a.added_at DESC, a.seq DESC LIMIT %s OFFSET %s"
    rows = db.execute(sql, (*args, limit if limit >= 0 else None, offset)).fetchall()
    return [Article(*r) for r in rows]


def counts(db: Conn, collection: str) -> dict[str, int]:
    row = db.execute(
        "SELECT (SELECT count(*) FROM articles WHERE collection = %s), "
        "(SELECT count(*) FROM paragraphs WHERE collection = %s), "
        "(SELECT count(*) FROM chunks WHERE collection = %s AND live)",
        (collection, collection, collection)).fetchone()
    assert row is not None
    return {"articles": int(row[0]), "paragraphs": int(row[1]), "chunks": int(row[2])}


def passages(db: Conn, collection: str, ids: Sequence[int]) -> dict[int, Passage]:
    """Passages by paragraph id, restricted to one collection, with their sentences."""
    if not ids:
        return {}
    rows = db.execute(
        f"SELECT p.id, p.number, p.text, {ARTICLE_COLS} FROM paragraphs p JOIN articles a ON "
        "a.collection = p.collection AND a.id = p.article_id "
        "WHERE p.collection = %s AND p.id = ANY(%s)", (collection, list(ids))).fetchall()
    sentences: dict[int, list[Sentence]] = {}
    for pid, start, end, speaker in db.execute(
            'SELECT paragraph_id, start, "end", speaker FROM sentences WHERE collection = %s '
            "AND paragraph_id = ANY(%s) ORDER BY paragraph_id, idx", (collection, list(ids))):
        sentences.setdefault(pid, []).append(Sentence(start, end, speaker))
    return {r[0]: Passage(r[0], Article(*r[3:]), r[1], r[2], tuple(sentences.get(r[0], ())))
            for r in rows}


def article_paragraph_ids(db: Conn, collection: str, article_id: str) -> list[int]:
    return [int(r[0]) for r in db.execute(
        "SELECT id FROM paragraphs WHERE collection = %s AND article_id = %s ORDER BY number",
        (collection, article_id))]


def chunk_vectors(db: Conn, collection: str, *, paragraph_ids: Sequence[int] | None = None,
                  live: bool = True, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(paragraph ids, vectors) of live (or staged) chunks, all or of these paragraphs."""
    sql = "SELECT paragraph_id, embedding FROM chunks WHERE collection = %s AND live = %s"
    args: list[object] = [collection, live]
    if paragraph_ids is not None:
        sql += " AND paragraph_id = ANY(%s)"
        args.append(list(paragraph_ids))
    rows = db.execute(sql, args, binary=True).fetchall()  # vectors as numbers, not text
    return as_arrays(rows, dim)


def as_arrays(rows: Sequence[tuple[int, Vector]], dim: int) -> tuple[np.ndarray, np.ndarray]:
    pids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    vectors = (np.vstack([np.asarray(r[1].to_numpy(), np.float32) for r in rows]) if rows
               else np.zeros((0, dim), np.float32))
    return pids, vectors
