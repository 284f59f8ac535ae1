"""Whether what the model wrote says only what it rests on.

A statement is **supported** when every name, number, date and content word it uses is found
in the sentences it cites (inflection aside: "waived" is found by "waive", "cutting" by "cut"),
or in the question itself; plain function words ("the", "would", "she") and the words that
attribute speech ("said", "according to") need not be. A number may be written in words or
digits ("four" is 4). A negation counts both ways: a statement may not add one its sentences
do not hold, nor use the word a sentence negates without a negation of its own ("we cannot
ask families" does not support "families can be asked").

A follow-up's **rewrite** is used only when it is one question, keeps the follow-up's content
words, and names only names, numbers and dates the conversation holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from index.text import porter_stem

__all__ = ["rewrite_problem", "unsupported"]

FUNCTION_WORDS = frozenset((
    "a an the this that these those there here it its it's he him his she her hers they them "
    "their theirs we us our you your i me my who whom whose which what when where why how "
    "and or but nor so yet if then than as because while though although whether also too "
    "very just else more most much many some any all both each every either other another "
    "such own same few several is are was were be been being am do does did done doing have "
    "has had having will would shall should can could may might must of in on at by for to "
    "from with without about above below into onto over under after before during since "
    "until up down out off again further once per via among between through across around "
    "against within upon toward towards anything something everything thing things one's "
    "did said say says saying told tell tells according added adds stated states noted "
    "notes explained explains reported reports article like well still already even"
).split())  # not "only": "only 4" is not "4"
NEGATIONS = frozenset("not no never none nothing nobody neither nor cannot without".split())
NUMBER_WORDS = {w: str(n) for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
NUMBER_WORDS |= {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70",
                 "eighty": "80", "ninety": "90", "hundred": "100", "dozen": "12"}
DATES = frozenset((
    "monday tuesday wednesday thursday friday saturday sunday today yesterday tomorrow "
    "january february march april june july august september october november december "
    "week weekend month year morning evening night"
).split())
# what a sign in the sentence lets a statement say in words
SIGNS = {"$": ("dollar", "dollars"), "%": ("percent",), "€": ("euro", "euros"),
         "£": ("pound", "pounds")}
_TOKEN = re.compile(r"\d[\d,.]*\d|\d|[^\W\d_]+(?:['\u2019][^\W\d_]+)*")
NEGATION_REACH = 4  # words after a negation that it may govern


@dataclass(frozen=True)
class _Token:
    """A word of a text as the check compares it: a stem, or a number in digits."""

    key: str
    kind: str  # "number", "date", "name", "word", "negation" or "function"


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    for match in _TOKEN.finditer(text):
        raw = match[0].replace("\u2019", "'")
        word = raw.lower()
        if word[0].isdigit():
            found.append(_Token(word.replace(",", "").rstrip("."), "number"))
        elif word in NEGATIONS or word.endswith("n't"):
            found.append(_Token("not", "negation"))
        elif word in NUMBER_WORDS:
            found.append(_Token(NUMBER_WORDS[word], "number"))
        else:
            word = word.removesuffix("'s")
            if word in FUNCTION_WORDS or not word:
                found.append(_Token(porter_stem(word), "function"))
            elif word in DATES:
                found.append(_Token(porter_stem(word), "date"))
            else:
                kind = "name" if raw[0].isupper() else "word"
                found.append(_Token(porter_stem(word), kind))
    return found


def _keys(texts: Iterable[str]) -> set[str]:
    keys: set[str] = set()
    for text in texts:
        keys |= {t.key for t in _tokens(text)}
        for sign, words in SIGNS.items():
            if sign in text:
                keys |= {porter_stem(w) for w in words}
    return keys


def _negated(tokens: Sequence[_Token]) -> set[str]:
    """The words a negation governs (the first content word after each)."""
    governed: set[str] = set()
    for i, token in enumerate(tokens):
        if token.kind != "negation":
            continue
        after = [t for t in tokens[i + 1 : i + 1 + NEGATION_REACH]
                 if t.kind not in ("function", "negation")]
        if after:
            governed.add(after[0].key)
    return governed


def _found(key: str, allowed: set[str]) -> bool:
    """Whether a word's stem is among ``allowed``, or shares a stem of four letters or more
    with one ("Cuba" and "Cuban", "repatriation" and "repatriate")."""
    if key in allowed:
        return True
    if len(key) < 4 or key[0].isdigit():
        return False
    return any(len(a) >= 4 and (a.startswith(key) or key.startswith(a)) for a in allowed)


_WHAT = {"number": "a number", "date": "a date", "name": "a name", "word": "words"}


def unsupported(prose: str, cited: Sequence[str], question: str = "") -> str | None:
    """Why ``prose`` says what the ``cited`` sentences do not hold (None if it does not):
    a name, number, date or content word found neither in them nor in ``question``, a
    negation they do not hold, or a negation of theirs left out."""
    tokens = _tokens(prose)
    allowed = _keys([*cited, question])
    for token in tokens:
        if token.kind in ("function", "negation"):
            continue
        if token.key in allowed or (token.kind != "number" and _found(token.key, allowed)):
            continue
        return f"a statement with {_WHAT[token.kind]} the sentence it cites does not hold"
    says_not = _negated(tokens)
    held_not: set[str] = set()
    for text in cited:
        held_not |= _negated(_tokens(text))
    if says_not - held_not:
        return "a statement with a negation the sentence it cites does not hold"
    if (held_not - says_not) & {t.key for t in tokens}:
        return "a statement that leaves out a negation of the sentence it cites"
    return None


def rewrite_problem(line: str, follow_up: str, known: Sequence[str]) -> str | None:
    """Why a follow-up's rewrite must not be used (None if it may): it must be one question,
    keep the content words of ``follow_up`` and name only names, numbers and dates that
    ``known`` (the conversation's questions and answers, the follow-up among them) holds."""
    text = line.strip()
    if (text.count("?") != 1 or not text.endswith("?") or re.search(r"[{}\[\]<>|]", text)
            or re.search(r"[.!;]\s+\S", text) or text.upper().startswith("NO ANSWER")):
        return "a rewrite that is not one question"
    said = _tokens(text)
    keys = {t.key for t in said}
    lost = [t for t in _tokens(follow_up) if t.kind not in ("function", "negation")
            and t.key not in keys]
    if lost:
        return "a rewrite that leaves out words of the follow-up"
    if any(t.kind == "negation" for t in _tokens(follow_up)) != any(
            t.kind == "negation" for t in said):
        return "a rewrite that adds or leaves out a negation"
    held = _keys([follow_up, *known])
    if any(t.kind in ("name", "number", "date") and t.key not in held for t in said):
        return "a rewrite naming what the conversation does not hold"
    return None
