"""Who is speaking in each sentence: direct quotes and reported speech.

Rule-based and deliberately precise rather than exhaustive; it recognises the shapes news
writing uses for attribution:

    "...," Pompeo said.            "...", said the spokesman.      Pompeo said, "..."
    Pompeo also said that ...      ..., Kim said, ...               ..., according to Yonhap.

A pronoun speaker ("he said") is resolved to the most recent named speaker, and a sentence that
continues an attributed quotation inherits its speaker.
"""

from __future__ import annotations

import re

from index.text import ATTRIBUTION_VERBS

_SAY = ATTRIBUTION_VERBS
_CAP = r"(?:[A-Z][\w'’.-]*|[A-Z]\.)"
_PARTICLE = r"(?:de|da|del|der|van|von|bin|al|el|la|le|of|the)"
# A proper name: capitalised words, maybe joined by particles ("Secretary of State Mike Pompeo").
_NAME = rf"{_CAP}(?:\s+(?:{_PARTICLE}\s+)?{_CAP}){{0,5}}"
_ROLE_NOUN = (
    r"(?:spokes(?:man|woman|person)|official|officials|minister|ministry|statement|agency|"
    r"police|source|sources|analyst|analysts|expert|experts|lawyer|attorney|president|"
    r"chairman|chairwoman|director|secretary|leader|leaders|company|government|report|"
    r"researchers?|scientists?|doctors?|witness(?:es)?|residents?|spokesperson|prosecutors?|"
    r"officers?|administration|department|white house|authorities|aides?|adviser|advisor|"
    r"diplomats?|negotiators?|lawmakers?|senator|governor|mayor|judge|court|ceo|founder|"
    r"bank|institute|office|council|committee|board|commission|union|university|study|"
    r"survey|data|figures|newspaper|poll|website|network|channel|broadcaster|team)"
)
_ROLE = rf"(?:[Tt]he|[Aa]n?|[Oo]ne|[Aa]nother)\s+(?:[\w'’-]+\s+){{0,4}}?{_ROLE_NOUN}"
_PRONOUN = r"(?:he|she|they|He|She|They)"
_WHO = rf"(?P<who>{_ROLE}|{_NAME}|{_PRONOUN})"
_OPEN = "\"“«'‘"
_CLOSE = "\"”»'’"

_PATTERNS = [
    # "...," Pompeo said.  /  "...", the spokesman said, according to Yonhap.
    re.compile(rf"[{_CLOSE}],?\s+{_WHO}(?:\s+\w+ly)?(?:\s+(?:also|later|then))?\s+{_SAY}\b"),
    # "...," said the spokesman.
    re.compile(rf"[{_CLOSE}],?\s+{_SAY}\s+{_WHO}"),
    # Pompeo said, "..."   /   Pompeo said: "..."
    re.compile(rf"(?:^|[,;]\s+){_WHO}(?:\s+(?:also|later|then|\w+ly))?\s+{_SAY}[,:]?\s+[{_OPEN}]"),
    # Pompeo also said that ...   /   The ministry said on Friday ...
    re.compile(
        rf"^(?:[A-Z][\w\s,]{{0,40}},\s+)?{_WHO}(?:\s+(?:also|later|then|has|had|have|\w+ly)){{0,2}}"
        rf"\s+{_SAY}\b"
    ),
    # ..., Kim said, ...   /   ..., the official said.
    re.compile(rf",\s+{_WHO}\s+{_SAY}(?:[,.]|$)"),
    # ... according to Yonhap.
    re.compile(rf"\b[Aa]ccording\s+to\s+{_WHO}"),
]
_NOT_A_NAME = {
    "The", "A", "An", "It", "This", "That", "These", "Those", "There", "In", "On", "At", "But",
    "And", "So", "If", "When", "While", "After", "Before", "As", "We", "I", "You", "His", "Her",
    "Their", "Our", "Its", "Some", "Many", "Most", "Other", "Others", "Officials", "People",
}  # fmt: skip


def attribute(sentences: list[str], previous: str | None = None) -> list[str | None]:
    """The speaker of each sentence of one paragraph, or None.

    ``previous`` is the last named speaker before this paragraph, used to resolve pronouns.
    """
    speakers: list[str | None] = []
    last_named = (previous or "").strip() or None  # a blank previous speaker is no speaker
    last_quoted: str | None = None
    for sentence in sentences:
        who = _find_speaker(sentence)
        if who and who.lower() in {"he", "she", "they"}:
            who = last_named
        if who is None and last_quoted and sentence.lstrip()[:1] in _OPEN:
            who = last_quoted  # a quotation continuing in the next sentence
        speakers.append(who)
        if who and is_person_name(who):
            last_named = who
        last_quoted = who if who and any(q in sentence for q in _OPEN + _CLOSE) else None
    return speakers


def last_named_speaker(speakers: list[str | None], default: str | None) -> str | None:
    """The most recent speaker that is a person's name, for pronoun resolution further on."""
    for who in reversed(speakers):
        if who and is_person_name(who):
            return who
    return default


def _find_speaker(sentence: str) -> str | None:
    for pattern in _PATTERNS:
        for match in pattern.finditer(sentence):
            who = _tidy(match.group("who"))
            if who:
                return who
    return None


def _tidy(who: str) -> str | None:
    who = who.strip(" ,.;:")
    words = who.split()
    while words and words[0] in _NOT_A_NAME and len(words) > 1 and words[0][0].isupper():
        if words[0] in {"The", "A", "An"} and words[1][:1].islower():
            break  # "The spokesman" is a role, keep it
        words = words[1:]
    who = " ".join(words)
    if not who or who in _NOT_A_NAME:
        return None
    return who


def is_person_name(who: str) -> bool:
    """Whether a speaker looks like a named person or body rather than a role or pronoun."""
    return who[:1].isupper() and who.split()[0] not in {"The", "A", "An", "One", "Another"}

