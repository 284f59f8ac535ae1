"""Text normalisation and tokens, shared by getting articles in and getting answers out.

Two stemmers live here on purpose, each named for its job:

- ``porter_stem``: the Porter algorithm exactly as SQLite FTS5's "porter" tokenizer runs it
  (diacritics folded first), so that BM25 computed outside FTS5 equals FTS5's own.
- ``prefix_stem``: a crude suffix chop that also joins derivations Porter keeps apart
  ("repatriation" / "repatriate"), for matching a question's words inside sentences.

And two normalisers: ``fold`` for comparing texts (duplicates, content hashes: punctuation
and symbols dropped, case-folded) and ``answer_form`` for scoring answers as the evaluation
data specifies (Unicode punctuation dropped, symbols such as "$" and "%" kept).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer  # type: ignore[import-untyped]

_WORD = re.compile(r"\w+")
_ACCENTED = re.compile("[\u00c0-\u024f\u1e00-\u1eff]")  # Latin letters that may carry marks
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# snowballstemmer runs PyStemmer's C build of Porter when installed (a dependency: ~100x faster)
_PORTER = snowballstemmer.stemmer("porter")
_SUFFIX = re.compile(r"(?:ing|edly|ed|es|s|ly)$")
_STOPWORDS = frozenset((
    "a an and are as at be been but by did do does for from had has have he her his how i "
    "in into is it its of on or she that the their them they this to was were what when "
    "where which who whom why will with would you your about after said say says "
).split())

# How articles attribute speech: "..., Pompeo said", "she told reporters that ..."
ATTRIBUTION_VERBS = (
    r"(?:said|says|say|told|tells|added|adds|stated|states|noted|notes|explained|explains|"
    r"wrote|writes|asked|asks|argued|argues|insisted|insists|warned|warns|claimed|claims|"
    r"declared|declares|announced|announces|continued|continues|recalled|recalls|replied|"
    r"responded|acknowledged|admitted|conceded|observed|commented|remarked|stressed|"
    r"emphasi[sz]ed|tweeted|posted|testified|confirmed|denied|suggested|predicted|urged|"
    r"cautioned|maintained|contended|assured|promised|vowed|countered|complained|"
    r"reiterated|explained|disclosed|revealed|estimated|believes|thinks)"
)
# How questions ask about it: "what did X say", "according to X", "X's remarks"
SPEECH_QUESTION_WORDS = (
    r"\b(?:say|said|says|saying|tell|told|according\s+to|claim(?:ed|s)?|comment(?:ed|s)?|"
    r"remarks?|statement|respond(?:ed)?|react(?:ed)?|announce[ds]?|warn(?:ed|s)?|think|thinks|"
    r"believe[sd]?|quote[sd]?|argue[sd]?|insist(?:ed|s)?|describe[sd]?|call(?:ed)?)\b"
)


def words(text: str) -> list[str]:
    """The words of a text, lower case."""
    return _WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    """Distinct words of a question that carry its content (no stopwords), at most 64."""
    seen: dict[str, None] = {}
    for w in words(text):
        if w not in _STOPWORDS and (len(w) > 1 or w.isdigit()):
            seen.setdefault(w.replace('"', ""), None)
    return list(seen)[:64]


def plain(text: str) -> str:
    """Lower case without diacritics (as FTS5's unicode61 tokenizer folds them)."""
    text = text.lower()
    if text.isascii() or not _ACCENTED.search(text):  # curly quotes and dashes need nothing
        return text
    return _MARKS.sub("", unicodedata.normalize("NFKD", text))


@lru_cache(maxsize=200_000)
def porter_stem(word: str) -> str:
    """A word as FTS5's porter tokenizer indexes it: lower case, diacritics removed, stemmed."""
    return str(_PORTER.stemWord(plain(word)))


def prefix_stem(word: str) -> str:
    """A crude stem, enough to match "repatriation"/"repatriate" style variants."""
    word = word.lower()
    return _SUFFIX.sub("", word)[:7] if len(word) > 4 else word


def fold(text: str) -> str:
    """Case-folded text with punctuation and symbols removed and whitespace folded (for
    comparing texts only; content hashes are built on it, so it must not change)."""
    text = unicodedata.normalize("NFKD", text).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[^\w\s]|_", " ", text)
    return " ".join(text.split())


def answer_form(text: str) -> str:
    """NFKD, lower case, punctuation removed, whitespace folded: how the evaluation data says
    answers are compared."""
    text = unicodedata.normalize("NFKD", text).lower()
    text = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text
                   if not unicodedata.combining(c))
    return " ".join(text.split())
