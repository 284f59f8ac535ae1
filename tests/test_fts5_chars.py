"""FTS5's word characters, as the tokens of PostgreSQL's stems and of BM25 re-scoring read
them (issue 23: the backends' scores differed where Python's Unicode and FTS5's disagree)."""

from __future__ import annotations

import re
import sqlite3

from index.store import bm25
from index.store.fts5_chars import RANGES, from_sqlite


def test_the_word_characters_are_those_of_the_sqlite_in_use() -> None:
    """Every code point is classified as this process's FTS5 classifies it."""
    found = from_sqlite()
    assert found.split() == RANGES.split(), (
        f"SQLite {sqlite3.sqlite_version}'s FTS5 reads words otherwise: run "
        "`python -m index.store.fts5_chars` and put the RANGES it prints in "
        "index/store/fts5_chars.py")


def test_token_counts_are_fts5s_where_python_reads_otherwise() -> None:
    """A private-use character, a skin-tone modifier, an emoji newer than Unicode 6.1 and a
    combining accent are inside a word; an emoji FTS5 knows as a symbol is not."""
    texts = ["crowd\ue000 sang", "thumbs\U0001f44d\U0001f3fb up", "Lakers\U0001f923 win",
             "\U0001f923 \U0001f923", "Sine\u0301ad", "b\u0301x", "snow \u2603 fell", "a_b"]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x, "
               "tokenize='porter unicode61 remove_diacritics 2')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    db.executemany("INSERT INTO t(rowid, x) VALUES (?, ?)", enumerate(texts, 1))
    counts = dict(db.execute("SELECT doc, count(*) FROM v GROUP BY doc").fetchall())
    assert [bm25.token_count(t) for t in texts] == [counts.get(i, 0) for i in range(1, 9)]
    python = re.compile(r"[^\W_]+")
    assert [len(python.findall(t)) for t in texts] != [bm25.token_count(t) for t in texts]
