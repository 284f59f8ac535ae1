"""Understanding a question: whose words it asks for, what kind of answer it wants, and the
weight of each of its words. What the rankers and the searcher read from the question is read
here, once; they only compare it with passages and sentences."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from index.models import Passage
from index.text import (
    SPEECH_QUESTION_WORDS,
    content_words,
    name_keys,
    prefix_stem,
    replace_lone_surrogates,
)
from retrieval.rarity import rarity

MAX_QUESTION_CHARS = 1_000


def clean_question(question: str) -> str:
    """A question as citebot reads it: whitespace folded, at most MAX_QUESTION_CHARS."""
    return replace_lone_surrogates(" ".join(question.split()))[:MAX_QUESTION_CHARS]


_SPEECH = re.compile(SPEECH_QUESTION_WORDS, re.I)
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)*")
_NOT_SPEAKERS = {"what", "who", "whom", "why", "how", "when", "where", "which", "did", "does",
                 "do", "is", "was", "were", "the", "a", "an", "in", "on", "about", "tell", "i",
                 "according", "can", "could", "would", "should", "has", "have", "please"}


_NUMERIC_Q = re.compile(
    r"\b(?:how\s+(?:many|much|long|old|far|big|large|often)|what\s+(?:year|percent(?:age)?|"
    r"number|amount|date|time|age)|when|since|what\s+day)\b", re.I)
_WHO_Q = re.compile(
    r"\b(?:who|whom|whose|name)\b|\b(?:which|what)\s+(?!(?:is|was|are|were|did|does|do|has|"
    r"have|had|will|would|can|could|should|happened|happens)\b)\w+", re.I)  # "which state"
_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                     r"hundred|thousand|million|billion|dozen|half|january|february|march|april|"
                     r"may|june|july|august|september|october|november|december|monday|tuesday|"
                     r"wednesday|thursday|friday|saturday|sunday)\b", re.I)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")


def answer_type_match(question: str, sentence: str) -> float:
    """1 when the sentence holds the kind of thing the question asks for: a number for "how
    many", "when", ...; a name not in the question for "who", "which state", ..."""
    if _NUMERIC_Q.search(question):
        return float(bool(_NUMBER.search(sentence)))
    if _WHO_Q.search(question):
        asked = {w.lower() for w in re.findall(r"\w+", question)}
        return float(any(m.group(0).lower() not in asked for m in _NAME.finditer(sentence)))
    return 0.0


@dataclass(frozen=True)
class Question:
    """A question and what retrieval reads from it."""

    text: str
    speaker: str | None  # the person whose words are asked for, if any
    speaker_keys: frozenset[str]


def analyse(question: str) -> Question:
    """Find whose words a question asks for ("what did Pompeo say ...", "according to ...")."""
    if not _SPEECH.search(question):
        return Question(question, None, frozenset())
    for match in _CAPITALISED.finditer(question):
        words = [w for w in match.group(0).split() if w.lower() not in _NOT_SPEAKERS]
        keys = name_keys(" ".join(words)) - _NOT_SPEAKERS
        if keys:
            return Question(question, " ".join(words), frozenset(keys))
    return Question(question, None, frozenset())


def said_by(speaker: str | None, keys: frozenset[str]) -> bool:
    """Whether a sentence's speaker is the person asked about (shares a name key)."""
    return bool(keys and speaker and name_keys(speaker) & keys)


def speaks(passage: Passage, keys: frozenset[str]) -> bool:
    """Whether any sentence of the passage is attributed to one of these name keys."""
    return any(said_by(s.speaker, keys) for s in passage.sentences)


stem = lru_cache(maxsize=1 << 16)(prefix_stem)  # ``index.text.prefix_stem``, remembered


def background_weights(question: str) -> dict[str, float]:
    """Each content word's stem of the question, weighted by its rarity in English at large
    (``retrieval.rarity``): the same whatever the collection holds."""
    out: dict[str, float] = {}
    for word in content_words(question):
        key = stem(word)
        out[key] = max(out.get(key, 0.0), rarity(word))
    return out
