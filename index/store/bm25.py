"""BM25 of a few candidate passages, computed here rather than by FTS5.

FTS5's ``bm25()`` walks the whole posting list of every query term (to count the passages that
hold it), so a question with a common word costs time in proportion to the collection. Search
therefore finds candidates with the question's rarer words only (FTS5, bounded work) and with
the dense index, and scores every candidate here with all of the question's words: the same
formula as FTS5's (k1 = 1.2, b = 0.75, column weights, the same IDF), the same Porter
stemmer, and the collection figures (passage count, average lengths) FTS5 keeps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from index.store.fts5_chars import PYTHON_CHAR, WORD_CHAR, python_agrees, tokens
from index.text import plain, porter_stem


def token_count(text: str) -> int:
    """A column's length in tokens, as FTS5 counts it (a letter with combining accents, or a
    word with an emoji newer than FTS5's Unicode tables in it, is one token)."""
    return len(tokens(text))

K1 = 1.2
B = 0.75
WEIGHTS = (1.0, 0.25)  # text, title: the weights the FTS5 query used


def finders(df: Mapping[str, float], max_df: int) -> list[str]:
    """The words that find candidates: the rarest first, each in at most ``max_df`` passages,
    together in at most twice that many (so the work of finding them is bounded however long
    the question); every word when ``max_df`` is 0. One word per stem ("use", "using"), so
    that a stem weighs once in choosing candidates, as in scoring them."""
    stems: dict[str, str] = {}
    for word in df:
        stems.setdefault(porter_stem(word), word)
    unique = list(stems.values())
    if max_df <= 0:
        return unique
    budget, out = 2.0 * max_df, []
    for word in sorted(unique, key=df.__getitem__):
        if df[word] > min(budget, max_df):
            break
        out.append(word)
        budget -= df[word]
    return out


def _matcher(stems: list[str]) -> Callable[[str], list[str]]:
    """A function giving the words of a text that may stem to one of these stems. Porter only
    rewrites a word's last letters: a stem less its last two letters is a prefix of every
    word that stems to it (checked over the 33k distinct words of the evaluation sets), so
    only such words are stemmed. Words are split as FTS5 splits them (``fts5_chars``)."""
    prefixes = sorted({s[: max(1, len(s) - 2)] for s in stems}, key=len, reverse=True)
    words = "(?:" + "|".join(map(re.escape, prefixes)) + ")"
    python = re.compile(f"(?<!{PYTHON_CHAR}){words}{PYTHON_CHAR}*")  # fast; right if Python agrees
    fts5: list[re.Pattern[str]] = []  # compiled for the rare text that needs it

    def find(text: str) -> list[str]:
        if python_agrees(text):
            return python.findall(text)
        if not fts5:
            fts5.append(re.compile(f"(?<!{WORD_CHAR}){words}{WORD_CHAR}*"))
        return fts5[0].findall(text)

    return find


@dataclass(frozen=True)
class CollectionStats:
    """What BM25 needs of the whole collection: passages and average length per column."""

    passages: int
    avg_lengths: tuple[float, float]


def idf(passages: int, df: float) -> float:
    """FTS5's IDF: log((N - df + 0.5) / (df + 0.5)), floored at a tiny positive value."""
    value = math.log((passages - df + 0.5) / (df + 0.5))
    return value if value > 0 else 1e-6


@dataclass(frozen=True)
class Doc:
    """A candidate passage: its text, its article's title, and FTS5's record of its length in
    words (None to count here)."""

    text: str
    title: str
    size: bytes | None = None  # FTS5's _docsize record, decoded only when needed


def scores(term_df: Mapping[str, float], docs: Mapping[int, Doc],
           stats: CollectionStats) -> dict[int, float]:
    """BM25 of each document for these stemmed terms and their document counts. Documents
    that hold none of the terms are left out."""
    weights = {t: idf(stats.passages, df) for t, df in term_df.items() if t}
    if not weights:
        return {}
    matcher = _matcher(list(weights))
    avgdl = max(sum(stats.avg_lengths), 1e-9)
    out: dict[int, float] = {}
    titles: dict[str, list[str]] = {}  # passages of one article share its title
    for pid, doc in docs.items():
        # as FTS5: a term's frequency is summed over the columns with their weights, and the
        # length is the whole row's
        freq: dict[str, float] = {}
        if doc.title not in titles:
            titles[doc.title] = [t for t in map(porter_stem, matcher(plain(doc.title)))
                                 if t in weights]
        for weight, terms in ((WEIGHTS[0], map(porter_stem, matcher(plain(doc.text)))),
                              (WEIGHTS[1], titles[doc.title])):
            for term in terms:
                if term in weights:
                    freq[term] = freq.get(term, 0.0) + weight
        if not freq:
            continue
        length = decode_size(doc.size)
        if length is None:
            length = token_count(doc.text) + token_count(doc.title)
        norm = K1 * (1 - B + B * length / avgdl)
        out[pid] = sum(weights[t] * f * (K1 + 1) / (f + norm) for t, f in freq.items())
    return out


def varints(block: bytes) -> list[int] | None:
    """SQLite varints (7 bits a byte, high bit = more, a 9th byte whole); None if cut short."""
    values: list[int] = []
    i = 0
    while i < len(block):
        value = 0
        for j in range(9):
            if i >= len(block):
                return None
            byte = block[i]
            i += 1
            if j == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        values.append(value)
    return values


def decode_averages(block: bytes) -> CollectionStats | None:
    """Parse FTS5's averages record (row 1 of its ``_data`` table): varints of the passage
    count and the total tokens of each column. None when it is not in that shape."""
    values = varints(block)
    if values is None or len(values) != 1 + len(WEIGHTS) or values[0] <= 0:
        return None
    n = values[0]
    return CollectionStats(n, (values[1] / n, values[2] / n))


def decode_size(block: bytes | None) -> int | None:
    """A row's length in tokens from FTS5's ``_docsize`` record (a varint per column)."""
    values = varints(block) if block is not None else None
    return sum(values) if values is not None and len(values) == len(WEIGHTS) else None
