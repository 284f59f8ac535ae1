"""A paragraph's words as PostgreSQL full text holds them, with citebot's own stemming.

PostgreSQL's ``to_tsvector`` stems with its own dictionaries and ranks with ``ts_rank``, which
is not BM25. citebot writes the ``tsvector`` itself instead: the same Porter stems as the
embedded store's FTS5 table (``index.text.porter_stem``), the paragraph's words at weight D
and its article's title at weight A, so that a GIN index finds candidates by stem and SQL can
weigh term frequencies as FTS5 does (text 1, title 0.25, ``index.store.bm25.WEIGHTS``).
Lengths are counted as ``index.store.bm25`` counts them when FTS5's record is absent.
"""

from __future__ import annotations

import re

from index.text import plain, porter_stem

_WORD = re.compile(r"\w+")
_MAX_POSITION = 16_383  # PostgreSQL's largest tsvector position
_MAX_POSITIONS = 256  # positions it keeps per lexeme
# Stems longer than this are not indexed lexically (dense search still finds their passage):
# PostgreSQL refuses a lexeme of 2,047 bytes or more, and a lexicon key of about 2,700.
MAX_STEM = 200  # characters: at most 800 bytes


def tokens(text: str) -> int:
    """A column's length in words, as ``index.store.bm25`` counts it."""
    return len(_WORD.findall(text))


def stems(text: str) -> list[str]:
    """The Porter stems of a text's words, in order."""
    return [porter_stem(w) for w in _WORD.findall(plain(text))]


def tsvector(text: str, title: str) -> str:
    """A ``tsvector`` literal: each stem with its positions, text at weight D, title at A."""
    places: dict[str, list[str]] = {}
    position = 0
    for weight, words in (("", stems(text)), ("A", stems(title))):
        for stem in words:
            position = min(position + 1, _MAX_POSITION)
            if not stem or len(stem) > MAX_STEM:  # "s" of "city's" finds nothing; see MAX_STEM
                continue
            held = places.setdefault(stem, [])
            if len(held) < _MAX_POSITIONS:
                held.append(f"{position}{weight}")
    return " ".join(f"{quote(stem)}:{','.join(at)}" for stem, at in places.items())


def quote(stem: str) -> str:
    """A lexeme quoted for a tsvector or tsquery literal."""
    return "'" + stem.replace("\\", "\\\\").replace("'", "''") + "'"
