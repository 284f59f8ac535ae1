"""Lexical search over a collection's FTS5 table: its name, the terms of a question, the
figures BM25 needs, and candidates found with bounded work (see ``index.store.bm25``)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable

from index.store.bm25 import WEIGHTS, CollectionStats, decode_averages, varints


def fts_name(collection: str) -> str:
    """The FTS5 table of a collection (a safe identifier derived from its name)."""
    return "fts_" + hashlib.sha256(collection.encode()).hexdigest()[:20]


def collection_stats(db: sqlite3.Connection, fts: str) -> CollectionStats | None:
    """Passage count and average column lengths, read from FTS5's averages record (O(1));
    None for an empty table."""
    row = db.execute(f"SELECT block FROM {fts}_data WHERE id = 1").fetchone()
    stats = decode_averages(bytes(row[0])) if row and row[0] is not None else None
    if stats is None:  # not the documented shape: add up every row's sizes (slow, but right)
        n, totals = 0, [0] * len(WEIGHTS)
        for (size,) in db.execute(f"SELECT sz FROM {fts}_docsize"):
            values = varints(bytes(size)) if size is not None else None
            if values is not None and len(values) == len(WEIGHTS):
                n += 1
                totals = [t + v for t, v in zip(totals, values, strict=True)]
        if not n:
            return None
        stats = CollectionStats(n, (totals[0] / n, totals[1] / n))
    return stats


def document_counts(db: sqlite3.Connection, fts: str, words: list[str],
                    cap: int) -> dict[str, float]:
    """How many passages hold each word: exact up to ``cap``, estimated above it.

    Counting stops after ``cap + 1`` matches (FTS5 returns them in rowid order), so the work
    per word is bounded. For a commoner word, the rowid span those matches cover, against the
    table's whole span, gives its share of the passages.
    """
    if not words:
        return {}
    ends = [db.execute(f"SELECT rowid FROM {fts} ORDER BY rowid {order} LIMIT 1").fetchone()
            for order in ("ASC", "DESC")]  # min()/max() would scan a virtual table
    if ends[0] is None or ends[1] is None:
        return {w: 0.0 for w in words}
    first, last = ends[0][0], ends[1][0]
    limit = cap + 1 if cap > 0 else -1
    one = (f"SELECT ?, count(*), max(rowid) FROM (SELECT rowid FROM {fts} WHERE {fts} MATCH ? "
           "ORDER BY rowid LIMIT ?)")
    out = {}
    for i, count, reached in db.execute(  # one statement for every word
            " UNION ALL ".join([one] * len(words)),
            [v for n, w in enumerate(words) for v in (n, f'"{w}"', limit)]):
        if cap > 0 and count > cap:
            out[words[i]] = count * (last - first + 1) / (reached - first + 1)
        else:
            out[words[i]] = float(count)
    return out


def candidates(db: sqlite3.Connection, fts: str, words: list[str], k: int) -> list[int]:
    """The k passages FTS5's BM25 ranks best for these words (an OR query)."""
    if not words:
        return []
    match = " OR ".join(f'"{w}"' for w in words)
    return [r[0] for r in db.execute(
        f"SELECT rowid FROM {fts} WHERE {fts} MATCH ? ORDER BY bm25({fts}, "
        f"{WEIGHTS[0]}, {WEIGHTS[1]}) LIMIT ?", (match, k))]


class ScratchIndex:
    """An in-memory FTS5 table of (text, label) rows ranked by FTS5's own ``bm25()``, for
    comparisons (the evaluation's BM25 baseline); nothing is stored."""

    def __init__(self, rows: Iterable[tuple[str, str]]) -> None:
        self._db = sqlite3.connect(":memory:")
        self._db.execute("CREATE VIRTUAL TABLE p USING fts5(text, label UNINDEXED, "
                         "tokenize='porter unicode61 remove_diacritics 2')")
        self._db.executemany("INSERT INTO p(text, label) VALUES (?, ?)", rows)

    def search(self, words: list[str], k: int) -> list[tuple[str, str]]:
        """The best ``k`` (label, text) rows holding any of ``words``."""
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        return [(label, text) for text, label in self._db.execute(
            "SELECT text, label FROM p WHERE p MATCH ? ORDER BY bm25(p) LIMIT ?", (match, k))]

    def close(self) -> None:
        self._db.close()
