"""Searches in PostgreSQL: nearest vectors (exactly in a collection below the approximate
threshold, else by pgvector's IVFFlat index, ``vector_index``), and lexical candidates from
the postings of the question's stems (``lexemes.POSTINGS``), ranked by BM25 in SQL and
re-scored by ``index.store.bm25`` exactly as the embedded store re-scores its FTS5 candidates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import psycopg

from index.store import bm25
from index.store.postgres import vector_index
from index.store.postgres.articles import article_paragraph_ids, as_arrays
from index.text import content_words, porter_stem


def nearest(db: psycopg.Connection, collection: str, query: np.ndarray, limit: int,
            dim: int, *, probes: int = vector_index.PROBES,
            exact_below: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(paragraph ids, vectors) of about the ``limit`` live chunks nearest the query: exactly
    so in a collection of at most ``exact_below`` paragraphs, or when the database has no
    vector index yet (every vector of the collection compared, as the embedded store does
    below its approximate threshold), else found by the IVFFlat index (``probes`` of its
    lists scanned) with the collection filter applied during the scan (approximate)."""
    d = int(dim)
    with db.transaction():
        row = db.execute(f"SELECT passages, ({vector_index.LISTS_SQL}) FROM collections "
                         "WHERE collection = %s",
                         (vector_index.pattern(d), collection)).fetchone()
        if row is None or row[0] <= exact_below or row[1] is None:
            # full precision, and an expression no index can order by
            distance = f"(embedding::vector({d}) <=> %s::vector({d})) + 0"
        else:
            distance = vector_index.order_by(d)
            # an iterative scan goes on to more lists while the collection filter leaves
            # fewer than `limit` rows (a small collection beside a large one)
            db.execute("SELECT set_config('ivfflat.iterative_scan', 'relaxed_order', true), "
                       "set_config('ivfflat.probes', %s, true)",
                       (str(vector_index.probes(probes, row[1])),))
        rows = db.execute(
            f"SELECT paragraph_id, embedding FROM chunks WHERE collection = %s AND live AND "
            f"vector_dims(embedding) = {d} ORDER BY {distance} LIMIT %s",
            (collection, np.asarray(query, np.float32), limit), binary=True).fetchall()
    return as_arrays(rows, dim)


def lexical(db: psycopg.Connection, collection: str, question: str, k: int, *,
            max_df: int, article_id: str | None = None,
            also: Sequence[int] = ()) -> list[tuple[int, float]]:
    """BM25 over paragraphs, best first, as ``SQLiteStore.lexical_search`` ranks them: the k
    best passages by the question's rarer words (or every passage of ``article_id``), plus
    ``also``, each scored with all of the question's words."""
    words = content_words(question)
    if not words:
        return []
    row = db.execute("SELECT passages, text_tokens, title_tokens FROM collections WHERE "
                     "collection = %s", (collection,)).fetchone()
    if row is None or row[0] <= 0:
        return []
    stats = bm25.CollectionStats(int(row[0]), (row[1] / row[0], row[2] / row[0]))
    stem_of = {w: porter_stem(w) for w in words}
    found_df: dict[str, int] = dict(db.execute(
        "SELECT term, passages FROM lexicon WHERE collection = %s AND term = ANY(%s)",
        (collection, list(set(stem_of.values())))).fetchall())
    df = {w: float(found_df.get(stem_of[w], 0)) for w in words}
    if article_id is not None:
        found = article_paragraph_ids(db, collection, article_id)
    else:
        found = _candidates(db, collection, bm25.finders(df, max_df), df, stats, k)
    ids = list(dict.fromkeys([*found, *also]))
    if not ids:
        return []
    docs = {int(r[0]): bm25.Doc(r[1], r[2]) for r in db.execute(
        "SELECT p.id, p.text, a.title FROM paragraphs p JOIN articles a ON a.collection = "
        "p.collection AND a.id = p.article_id WHERE p.collection = %s AND p.id = ANY(%s)",
        (collection, ids))}
    term_df: dict[str, float] = {}
    for word, count in df.items():
        term_df.setdefault(stem_of[word], count)
    scored = bm25.scores(term_df, docs, stats)
    return sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))


def _candidates(db: psycopg.Connection, collection: str, words: list[str],
                df: dict[str, float], stats: bm25.CollectionStats, k: int) -> list[int]:
    """The k passages that BM25 over these words ranks best (an OR query), ranked in SQL
    from the postings of these words alone (each stem's counts in the text and the title,
    weighed as FTS5 weighs its columns). Scores are compared to 9 decimals: a sum's last
    bits depend on the order the rows are added in, and equal scores go by paragraph id."""
    terms = {porter_stem(w): bm25.idf(stats.passages, df[w]) for w in words if df[w] > 0}
    if not terms:
        return []
    avgdl = max(sum(stats.avg_lengths), 1e-9)
    text_weight, title_weight = bm25.WEIGHTS
    rows = db.execute(
        "WITH q(term, idf) AS (SELECT * FROM unnest(%s::text[], %s::float8[])) "
        "SELECT x.paragraph_id FROM postings x JOIN q ON q.term = x.term "
        "CROSS JOIN LATERAL (SELECT x.text_count * %s + x.title_count * %s AS tf) f "
        "WHERE x.collection = %s AND x.term = ANY(%s) GROUP BY x.paragraph_id "
        "ORDER BY round(sum(q.idf * f.tf * (%s + 1) / (f.tf + %s * (1 - %s + %s * x.length / "
        "%s)))::numeric, 9) DESC, x.paragraph_id LIMIT %s",
        (list(terms), list(terms.values()), text_weight, title_weight, collection,
         list(terms), bm25.K1, bm25.K1, bm25.B, bm25.B, avgdl, k)).fetchall()
    return [int(r[0]) for r in rows]
