"""Dropping the paragraphs of an article's text that are not the article (they are split by
``index.text.split_paragraphs``).

Cleaning is conservative: it only ever drops whole paragraphs (a title repeated as a body line,
exact and near duplicates, boilerplate such as "Related news" or share prompts). A kept
paragraph is stored exactly as it came in, less surrounding whitespace, so that every quote taken
from it stays verbatim.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from index.text import fold

# Whole-paragraph boilerplate, matched case-insensitively against the stripped paragraph.
_BOILERPLATE = re.compile(
    r"""^(?:
        (?:related|more|recommended|popular|trending|latest|top)\s+
            (?:news|articles?|stories|story|content|coverage|posts|reading|videos?|topics?)
      | (?:advertisement|advertising|sponsored(?:\s+content)?|ad|promoted|paid\s+content)
      | \[an\s+error\s+occurred\s+while\s+processing\s+(?:this|the)\s+directive\]
      | (?:share|share\s+this(?:\s+(?:article|story|page|post))?|tweet|e-?mail|print|copy\s+link)
            (?:\s+on\s+\w+)?
      | share\s+(?:on|via|to)\s+.{1,40}
      | (?:subscribe|sign\s+up|register|log\s*in|sign\s+in)\b.{0,100}
      | (?:click|tap)\s+here\b.{0,100}
      | (?:read|see)\s+(?:more|also|next)\b.{0,100}
      | follow\s+(?:us|@\w+)\b.{0,100}
      | (?:©|\(c\)|copyright)\s.{0,120}
      | all\s+rights\s+reserved\.?
      | (?:skip\s+to\s+(?:main\s+)?content|back\s+to\s+top|loading\.{0,3}|comments?|
         leave\s+a\s+comment|continue\s+reading|we\s+use\s+cookies\b.{0,160})
    )[\s.:!]*$""",
    re.IGNORECASE | re.VERBOSE,
)
_MAX_BOILERPLATE_CHARS = 200
_SHINGLE = 3
_NEAR_DUPLICATE = 0.8  # share of a paragraph's word triples found in an earlier one
_MIN_WORDS_FOR_NEAR = 8
_MAX_POSTING = 64  # earlier paragraphs remembered per word triple (bounds the work per paragraph)


@dataclass(frozen=True)
class Dropped:
    """A paragraph that cleaning removed, and why."""

    text: str
    reason: str  # "title" | "duplicate" | "near-duplicate" | "boilerplate" | "empty"


@dataclass(frozen=True)
class Cleaned:
    """The paragraphs kept, in order, and those dropped."""

    paragraphs: tuple[str, ...]
    dropped: tuple[Dropped, ...]


def is_boilerplate(paragraph: str) -> bool:
    """Whether a whole paragraph is site furniture rather than article text."""
    stripped = paragraph.strip()
    return len(stripped) <= _MAX_BOILERPLATE_CHARS and bool(_BOILERPLATE.match(stripped))


def clean_paragraphs(title: str | None, paragraphs: list[str]) -> Cleaned:
    """Drop repeated titles, duplicates, near duplicates and boilerplate; keep the rest as is."""
    title_key = fold(title or "")
    seen: set[str] = set()
    shingles = _ShingleIndex()
    kept: list[str] = []
    dropped: list[Dropped] = []
    for raw in paragraphs:
        text = raw.strip()
        key = fold(text)
        reason = None
        if not key:
            reason = "empty"
        elif title_key and key == title_key:
            reason = "title"
        elif is_boilerplate(text):
            reason = "boilerplate"
        elif key in seen:
            reason = "duplicate"
        else:
            grams = _shingles(key)
            if grams and shingles.near_duplicate(grams):
                reason = "near-duplicate"
            elif grams:
                shingles.add(grams)
        if reason:
            if text:
                dropped.append(Dropped(text, reason))
            continue
        seen.add(key)
        kept.append(text)
    return Cleaned(tuple(kept), tuple(dropped))


def _shingles(key: str) -> set[tuple[str, ...]]:
    words = key.split()
    if len(words) < _MIN_WORDS_FOR_NEAR:
        return set()
    return {tuple(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}


class _ShingleIndex:
    """The word triples of the paragraphs kept so far, by triple, so that finding a near
    duplicate costs the triples a paragraph shares with earlier ones, not one comparison with
    every earlier paragraph (quadratic in an article of thousands of paragraphs)."""

    def __init__(self) -> None:
        self._postings: dict[tuple[str, ...], list[int]] = {}
        self._count = 0

    def near_duplicate(self, grams: set[tuple[str, ...]]) -> bool:
        """Whether one earlier paragraph holds enough of ``grams`` (a later paragraph's)."""
        shared = Counter(i for g in grams for i in self._postings.get(g, ()))
        return max(shared.values(), default=0) / len(grams) >= _NEAR_DUPLICATE

    def add(self, grams: set[tuple[str, ...]]) -> None:
        for g in grams:
            posting = self._postings.setdefault(g, [])
            if len(posting) < _MAX_POSTING:  # a triple that common tells nothing apart
                posting.append(self._count)
        self._count += 1
