"""Text normalisation and tokens, shared by getting articles in and getting answers out.

Two stemmers live here on purpose, each named for its job:

- ``porter_stem``: the Porter algorithm exactly as SQLite FTS5's "porter" tokenizer runs it
  (diacritics folded first; Porter's revised rules, checked word for word against FTS5 by
  the tests), so that BM25 computed outside FTS5 equals FTS5's own.
- ``prefix_stem``: a crude suffix chop that also joins derivations Porter keeps apart
  ("repatriation" / "repatriate"), for matching a question's words inside sentences.

And two normalisers: ``fold`` for comparing texts (duplicates, content hashes: punctuation
and symbols dropped, case-folded) and ``answer_form`` for scoring answers as the evaluation
data specifies (Unicode punctuation dropped, symbols such as "$" and "%" kept).

Also the text rules both sides apply alike: ``replace_lone_surrogates`` (text that can be
encoded), ``split_paragraphs`` (an article's paragraphs) and ``name_keys`` (the words that
identify a speaker, as attributed at index time and as asked about).
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
_FTS5_LONGEST = 64  # bytes: FTS5's porter leaves a longer token (or one under 3) unstemmed
_FOLDS = str.maketrans("\u03c2\u00b5", "\u03c3\u03bc")  # unicode61 also folds these two
_UNDOUBLED = frozenset("chjkqvwxy")  # doubles Snowball's Porter keeps after -ed/-ing; FTS5 not
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


def composed(text: str) -> str:
    """``text`` with combining accents joined to their letters where Unicode has the letter
    (NFC): FTS5 reads "Sinéad" written with a combining accent as one word, and a regular
    expression's word characters do not include the accent."""
    return unicodedata.normalize("NFC", text) if _MARKS.search(text) else text


def words(text: str) -> list[str]:
    """The words of a text, lower case."""
    return _WORD.findall(composed(text).lower())


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
    if text.isascii() or not (_ACCENTED.search(text) or _MARKS.search(text)):
        return text  # curly quotes and dashes need nothing
    return _MARKS.sub("", unicodedata.normalize("NFKD", text))


@lru_cache(maxsize=200_000)
def porter_stem(word: str) -> str:
    """A word as FTS5's porter tokenizer indexes it: lower case, diacritics removed, stemmed
    (a word of under 3 or over 64 bytes as it is), by Porter's revised rules as FTS5 has them."""
    folded = plain(word).translate(_FOLDS)
    if not 3 <= len(folded.encode()) <= _FTS5_LONGEST:
        return folded
    return _revised(folded, str(_PORTER.stemWord(folded)))


def _revised(word: str, stem: str) -> str:
    """Snowball's "porter" is the 1980 paper's; FTS5 runs Porter's revision, which also
    undoubles "kk", "vv"... after -ed/-ing (step 1b) and has "bli" -> "ble", "logi" -> "log"
    (step 2). Steps 3 to 5 then go on as Snowball's, so its stem of the revised word is FTS5's."""
    for suffix in ("ed", "ing"):
        base = word[: -len(suffix)]
        if (word.endswith(suffix) and not word.endswith("eed") and len(base) > 2
                and base[-1] == base[-2] and base[-1] in _UNDOUBLED and _vowel_in(base)):
            return str(_PORTER.stemWord(base[:-1]))
    for suffix, revised in (("bli", "ble"), ("logi", "log")):
        if stem.endswith(suffix) and _measure_above_0(stem[: -len(suffix)]):
            return str(_PORTER.stemWord(stem[: -len(suffix)] + revised))
    return stem


def _vowel_in(stem: str) -> bool:
    """Porter's *v*: a vowel, "y" counting as one after the first letter."""
    return any(c in "aeiou" or (c == "y" and i > 0) for i, c in enumerate(stem))


def _measure_above_0(stem: str) -> bool:
    """Porter's m > 0: a vowel followed by a consonant ("y" is a vowel after a consonant)."""
    vowel_seen, consonant = False, False
    for c in stem:
        consonant = not (c in "aeiou" or (c == "y" and consonant))
        if consonant and vowel_seen:
            return True
        vowel_seen = vowel_seen or not consonant
    return False


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


_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_lone_surrogates(text: str) -> str:
    """Text that can be encoded: each lone surrogate (from bytes decoded with
    ``errors="surrogateescape"``, or a JSON ``"\\udc80"`` escape) becomes U+FFFD, as an
    undecodable byte does when a page is fetched; a pair split in two code points is joined."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def split_paragraphs(text: str) -> list[str]:
    """Split text into paragraphs: blank lines separate them, and so do single line breaks
    unless a block is hard-wrapped prose, which stays one paragraph (newlines kept)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    for block in re.split(r"\n[ \t\f\v]*\n", text):
        lines = [ln for ln in block.split("\n") if ln.strip()]
        if not lines:
            continue
        if len(lines) > 1 and _hard_wrapped(lines):
            out.append(block.strip())
        else:
            out.extend(ln.strip() for ln in lines)
    return out


def _hard_wrapped(lines: list[str]) -> bool:
    """True when the lines look like one paragraph wrapped at a fixed width."""
    body = [ln.rstrip() for ln in lines[:-1]]
    if min(len(ln) for ln in body) < 40:
        return False
    ending = sum(1 for ln in body if ln.endswith((".", "!", "?", '"', "”", ":")))
    widths = [len(ln) for ln in body]
    return ending <= len(body) // 2 and max(widths) - min(widths) <= 30


_TITLES = {
    "mr", "mrs", "ms", "dr", "prof", "sir", "president", "secretary", "state", "minister",
    "prime", "senator", "sen", "rep", "gov", "governor", "mayor", "chairman", "chairwoman",
    "director", "general", "gen", "of", "the", "chief", "leader", "former", "vice", "us",
    "foreign", "defense", "defence", "deputy", "ceo", "judge", "justice", "king", "queen",
}  # fmt: skip


def name_keys(who: str) -> set[str]:
    """Lower-case name words without titles: "Secretary Mike Pompeo" -> {"mike", "pompeo"}."""
    parts = re.findall(r"[\w'’-]+", who.lower())
    return {w for w in parts if w not in _TITLES and len(w) > 1}
