"""Reading a follow-up question in the light of the conversation before it, by rules (no LLM).

    "what else did he say?"    the last question about that person again, the quotes already
                               shown left out ("he": the person the conversation is about)
    "and Kim?"                 the last question, with Kim in place of its person
    "what about the sanctions?"  the last question, about the sanctions instead
    "when was that?", "why?"   when (why) + the last quote shown (the event it told of);
                               a "when" reading asks for that event's time (``asks``)
    "when is that meeting?"    when + the last answer's quote that spoke of a meeting
    "where did he sleep?"      pronouns replaced by the person ("his" -> "Pompeo's")
    "and who paid for it?"     "it": the thing the conversation is about (a name, else the
                               last question's noun phrase: "the barrier"), never a person;
                               "and who opposed?": the last question's topic kept

A question these rules do not change is read as it is. Either way the conversation's earlier
answers also rank a little higher (``retrieval.conversation``): a prior, never a filter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.store import Turn
from index.text import content_words, name_keys, prefix_stem, words
from retrieval.question import analyse

MAX_ELLIPSIS_WORDS = 8  # "and X?" with a longer X is a question of its own
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:of\s+|de\s+|al-)?[A-Z][\w'’-]*)*")
_NOT_NAMES = frozenset(
    "what who whom whose why how when where which did does do is was were are the a an in "
    "on about tell i and but so or according can could would should has have had please "
    "he she it they his her its their him them this that these those there then also any "
    "anything else more of for from to by with at as during prior after before since until "
    "if while among between into over under than other some many most much one two three "
    "first last next new who's what's ok okay yes no not".split())

_MORE = re.compile(
    r"\b(?:what|who|anything|something|where|when|whatever)\s+else\b|\bwhat\s+more\b|"
    r"\btell\s+(?:me\s+)?more\b|\bany\s*more\b|^\W*(?:and\s+)?(?:more|else)\W*$", re.I)
_MORE_WORDS = re.compile(r"\b(?:else|more|anything|something|any\s*more|tell\s+(?:me\s+)?)\b",
                         re.I)
_ELLIPSIS = re.compile(
    r"^\W*(?:(?:and|but|so|ok(?:ay)?)\W+)?(?:what|how)\s+about\s+(?P<x>.+?)[\s?.!]*$|"
    r"^\W*(?:and|or|but)\s+(?P<y>.+?)[\s?.!]*$", re.I)
_EVENT = re.compile(
    r"^\W*(?:(?:and|but|so|ok(?:ay)?)\W+)?(?P<wh>when|where|why|how|what\s+(?:day|year|time|"
    r"date)|which\s+(?:day|year))\b", re.I)
_QUESTION_START = re.compile(
    r"(?:what|who|whom|whose|when|where|why|how|which|did|does|do|is|was|were|are|can|could|"
    r"will|would|has|have|had|should)\b", re.I)
_EVENT_READING = re.compile(r"^[^:?]{1,60}: ")  # how read() writes "when was that?"
_DEMONSTRATIVE = re.compile(  # "about that deal", "is that meeting"; not "the storm that hit"
    r"(?:^|\b(?:about|on|of|in|at|for|with|from|to|after|before|during|is|was|are|were|did|"
    r"does|do|and)\s+)(?:that|this|these|those)\s+(?P<noun>[a-z][\w'’-]+)", re.I)
_ANAPHOR = re.compile(r"\b(?:that|this|it|then|there)\b", re.I)
_EVENT_FILLER = frozenset(
    "happen happened happens take took place occur occurred did do does was were is be "
    "that this it then there say said".split())
_TIME_WH = re.compile(r"when|what\s+(?:day|year|time|date)|which\s+(?:day|year)", re.I)
_CONJUNCTION = re.compile(r"^\W*(?:and|but|so|ok(?:ay)?)\W+(?=(?:who|whom|what|which|when|where|"
                          r"why|how)\b)", re.I)
_WHO = re.compile(r"^\W*(?:and\s+)?(?:who|whom)\b", re.I)  # its person: whom the answer named
_TIME_NOUNS = frozenset("day year time date".split())
_ASKS_THING = re.compile(r"(?:who|whom|what|which)\b", re.I)
# The last question's noun phrase ("the flood barrier"): a determiner and up to three words,
# up to a word that cannot be in it; after "did"/"will"..., its last word is the verb.
_TOPIC = re.compile(r"\b(?P<aux>(?:did|does|do|will|would|can|could|should|may|might|must)"
                    r"\s+)?(?P<np>the\s+[a-z][\w'’-]*(?:\s+[a-z][\w'’-]*){0,3})", re.I)
_VERBISH = frozenset("is was are were be been being has have had do does did will would can "
                     "could should may might must say said says tell told".split())
_NOT_TOPIC = _VERBISH | frozenset(
    "the a an his her their its this that these those some any and or but who whom whose what "
    "which when where why how to of in on at by for from with about against into over under "
    "after before during than as if not".split())
# What a phrase measures or names of something else is not the topic ("the rate of ...").
_RELATIONAL = frozenset(
    "rate number amount name names year years percentage percent estimate result kind type "
    "part term size share total loss first last majority most rest date time day age".split())
_PRONOUN = re.compile(r"\b(?:he|she|him|his|hers|her|they|them|their|theirs|it|its)\b", re.I)
_POSSESSIVE = {"his", "their", "theirs", "hers", "its"}
_KIND = {"he": "person", "she": "person", "him": "person", "his": "person", "her": "person",
         "hers": "person", "it": "thing", "its": "thing", "they": "group", "them": "group",
         "their": "group", "theirs": "group"}
_FALLBACK = {"person": ("person", "thing"), "thing": ("thing", "person"),
             "group": ("group", "person", "thing")}
_EXPLETIVE = re.compile(r"\s+(?:takes?|took|costs?|means?|matters?|seems?|appears?|happen(?:s|ed)?"
                        r"|rains?|true|possible|likely|clear|important|necessary)\b", re.I)
_NOT_NOUN = frozenset(
    "about to for from with at in on by of and or but that than as when where if because "
    "after before say said tell told do did does is was".split())
_ABOUT = re.compile(r"\babout\s+.+?(?=[?.!]*$)", re.I)
_COMMON = frozenset("will may can might must mark bill rose june april page say said".split())
_LOWER_NAME = re.compile(r"(?!(?:the|a|an|his|her|their|its|this|that|these|those|some|any)\b)"
                         r"[a-z][\w'’-]*(?:\s+[a-z][\w'’-]*){0,2}")
_SPEECH_PREV = re.compile(r"\b(?:say|said|says|tell|told)\b", re.I)
# A plural thing the last question asked about ("what gifts did he bring?"): what "they"
# means when the conversation named no group.
_PLURAL_THING = re.compile(
    r"\b(?i:what|which|the|these|those|how\s+many)\s+"
    r"(?P<noun>(?:[a-z][\w-]+\s+(?!(?:does|is|was|has|says)\b))?[a-z][\w-]+s)"
    r"\b(?<!ss)(?<!us)(?<!is)")


@dataclass(frozen=True)
class Reading:
    """A question as citebot answers it: standalone, and how it was read."""

    text: str
    kind: str  # "new", "pronoun", "more", "other", "event"
    exclude_shown: bool = False  # "what else": leave out the quotes already shown
    points_at: int = 0  # an "event" reading: which of the last turn's quotes it asks about
    asks: str = ""  # "when": an event reading that asks for the time of that event


def names_in(text: str) -> list[str]:
    """Capitalised names in a question, in order ("North Korea", "Pompeo"), question words
    and pronouns left out."""
    found: list[str] = []
    for match in _CAPITALISED.finditer(text):
        words = match.group(0).split()
        while words and words[0].lower() in _NOT_NAMES:
            words = words[1:]
        name = re.sub(r"['’]s?$", "", " ".join(words))
        if name and name.lower() not in _NOT_NAMES and name not in found:
            found.append(name)
    return found


def plain_name(person: str) -> str:
    """A person's name without titles: "Secretary Pompeo" -> "Pompeo"."""
    keys = name_keys(person)
    kept = [w for w in person.split() if w.lower().strip(".,") in keys]
    return " ".join(kept) or person


def referents(turns: Sequence[Turn]) -> dict[str, str]:
    """Whom "he"/"she" (a person), "it" (a thing) and "they" (a group: a plural name) can
    mean: the most recent of each in the conversation. A turn's thing is a name it brought up
    that is not its person, else its person when that is only the first name of the question
    (not a speaker, nor whom a "who" question found), else the question's noun phrase ("the
    barrier")."""
    found: dict[str, str] = {}
    for turn in reversed(turns):
        candidates = [n for n in (turn.person, *turn.names) if n]
        if turn.person:
            found.setdefault("person", turn.person)
        if thing := _thing_of(turn):
            found.setdefault("thing", thing)
        if groups := [n for n in candidates if n.endswith("s") and not n.endswith("ss")]:
            found.setdefault("group", groups[0])
        if len(found) == 3:
            break
    return found


def _thing_of(turn: Turn) -> str | None:
    if things := [n for n in turn.names if n != turn.person]:
        return things[0]
    if turn.person and not _WHO.match(turn.question) and analyse(turn.read_as).speaker is None:
        return turn.person  # "Where is the Amazon?": a name, not whom a question found
    return topic_of(turn.read_as)


def topic_of(question: str) -> str | None:
    """What a question asks about, as a noun phrase: "Who voted against the barrier?" -> "the
    barrier", "What did the robot do?" -> "the robot", "What did Ortiz say about the deal?" ->
    "the deal"; None without one (and for an event reading, "When: ...")."""
    if _EVENT_READING.match(question):
        return None
    about = _ABOUT.search(question)
    for text in ((about.group(0),) if about else ()) + (question,):
        at = 0
        while match := _TOPIC.search(text, at):
            at = match.start("np") + 1  # the next "the" may be inside this phrase ("of the")
            kept = match["np"].split()
            stop = next((i for i, w in enumerate(kept[1:], 1) if w.lower() in _NOT_TOPIC),
                        len(kept))
            by_verb = stop < len(kept) and kept[stop].lower() in _VERBISH
            kept = kept[:stop]
            if match["aux"] and not by_verb:
                kept.pop()  # "did the council decide": its last word is the verb
            if len(kept) > 1 and kept[-1].lower() not in _RELATIONAL:
                return " ".join(kept)
    return None


def proper_case(text: str, names: Sequence[str]) -> str:
    """``text`` with the names (and their words) it writes in lower case written as the
    names are ("what did pompeo say" -> "what did Pompeo say"), so that questions typed in
    lower case find their speakers too."""
    forms = {w.lower(): w for n in names for w in (n, *n.split())
             if len(w) > 2 and w.lower() not in _NOT_NAMES and w.lower() not in _COMMON}
    if not forms:
        return text
    pattern = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, forms), key=len,
                                                       reverse=True)) + r")\b", re.I)
    return pattern.sub(lambda m: forms.get(m.group(0).lower(), m.group(0)), text)


def person_of(turn: Turn) -> str | None:
    return turn.person or (turn.names[0] if turn.names else None)


def read(question: str, turns: Sequence[Turn]) -> Reading:
    """``question`` made standalone with the conversation's ``turns`` (oldest first)."""
    if not turns:
        return Reading(question, "new")
    last = turns[-1]
    known = referents(turns)
    if "group" not in known and (plural := _PLURAL_THING.search(last.read_as)):
        known["group"] = f"the {plural['noun']}"  # "who were they from?" -> "the gifts"
    person = known.get("person") or known.get("thing")
    question = proper_case(question, [n for t in turns for n in (t.person, *t.names) if n])
    if _MORE.search(question):
        return Reading(_more(question, last, known), "more", exclude_shown=True)
    ellipsis = _ELLIPSIS.match(question)
    x = (ellipsis["x"] or ellipsis["y"]) if ellipsis else ""
    if x and len(x.split()) <= MAX_ELLIPSIS_WORDS and not _QUESTION_START.match(x):
        base = next((t for t in reversed(turns) if not _EVENT_READING.match(t.read_as)), last)
        return Reading(_other(replace_pronouns(x, known), base, person), "other")
    event = _EVENT.match(question)
    asks = "when" if event and _TIME_WH.fullmatch(event["wh"]) else ""
    quotes = last.quote.splitlines()
    about = quotes[0] if quotes else last.read_as
    if event and not _has_content(question, _EVENT_FILLER | _TIME_NOUNS) and (
            _ANAPHOR.search(question) or not content_words(question)):  # "why?", "when?"
        return Reading(f"{event['wh'].capitalize()}: {about}", "event", asks=asks)
    resolved = replace_pronouns(question, known)
    pointed = next((i for i, quote in enumerate(quotes) if _points_at(resolved, quote)), None)
    if pointed is not None:  # "when is that meeting?": the quote that spoke of a meeting
        return Reading(f"{resolved.rstrip(' ?.!')}: {quotes[pointed]}", "event",
                       points_at=pointed, asks=asks)
    base = next((t for t in reversed(turns) if not _EVENT_READING.match(t.read_as)), last)
    return _joined(question, resolved, topic_of(base.read_as))


def _joined(question: str, resolved: str, topic: str | None) -> Reading:
    """"and who paid for it?" -> "Who paid for the barrier?": a question led by "and" keeps
    the last question's topic, through its pronouns or, with no object of its own ("and who
    opposed?"), by taking the topic as its object. Otherwise the question with its pronouns
    replaced."""
    joined = _CONJUNCTION.match(resolved)
    if joined is None:
        return Reading(resolved, "pronoun" if resolved != question else "new")
    rest = resolved[joined.end():]
    rest = rest[:1].upper() + rest[1:]
    own = [w for w in content_words(rest) if w not in _EVENT_FILLER]
    if resolved != question:
        return Reading(rest, "pronoun")
    if topic and _ASKS_THING.match(rest) and len(own) == 1:
        return Reading(f"{rest.rstrip(' ?.!')} {topic}?", "other")
    return Reading(question, "new")


def replace_pronouns(text: str, known: dict[str, str]) -> str:
    """He, she, him -> the person; it -> the thing; they, them -> the group (each falling
    back on the others); his, its, their (and "her" before a noun) -> the owner's. Pronouns
    with nothing to stand for, after a name of the question itself ("when Manning played,
    how old was he?"), and "it" as in "how long did it take", stay."""
    names = [m.start() for m in _CAPITALISED.finditer(text) if names_in(m.group(0))]

    def swap(match: re.Match[str]) -> str:
        word = match.group(0).lower()
        name = next((known[k] for k in _FALLBACK[_KIND[word]] if k in known), None)
        if (name is None or any(at < match.start() for at in names)
                or (word == "it" and _EXPLETIVE.match(text, match.end()))):
            return match.group(0)
        following = text[match.end():].split(maxsplit=1)
        next_word = following[0].strip("?.!,;:").lower() if following else ""
        owner = word in _POSSESSIVE or (word == "her" and next_word != ""
                                        and next_word not in _NOT_NOUN)
        if not owner:
            return name
        return f"{name}'" if name.endswith("s") else f"{name}'s"

    return _PRONOUN.sub(swap, text)


def _points_at(question: str, quote: str) -> bool:
    """Whether "that X" in the question names something a quote spoke of."""
    said = {prefix_stem(w) for w in words(quote)}
    return any(prefix_stem(m["noun"].lower()) in said and m["noun"].lower() not in _NOT_NOUN
               for m in _DEMONSTRATIVE.finditer(question))


def _has_content(question: str, filler: frozenset[str]) -> bool:
    words = [w for w in content_words(question) if w not in filler]
    return bool(words)


def _more(question: str, last: Turn, known: dict[str, str]) -> str:
    """"What else did he say?": the question without its "else", or the last one again."""
    rest = " ".join(_MORE_WORDS.sub(" ", question).split())
    rest = replace_pronouns(rest, known)
    person = known.get("person") or known.get("thing")
    speech = analyse(rest)
    if speech.speaker or _has_content(rest, _EVENT_FILLER | {"who", "what"}):
        return rest
    if person and _SPEECH_PREV.search(last.read_as):
        return f"What did {person} say?"
    return last.read_as


def _other(x: str, last: Turn, person: str | None) -> str:
    """"And Kim?" / "what about the sanctions?": the last question with X in its place."""
    previous = last.read_as
    names = names_in(x)
    if not names and _SPEECH_PREV.search(previous) and _LOWER_NAME.fullmatch(x):
        x = " ".join(w.capitalize() for w in x.split())  # "and kim?" after "what did ... say"
        names = [x]
    if names and names[0] == x.removeprefix("the ").strip():  # a name: swap the person
        old = person_of(last)
        if old and old in previous:
            return previous.replace(old, x)
        if _SPEECH_PREV.search(previous):
            return f"What did {x} say?"
        return f"What about {x}?"
    if _ABOUT.search(previous):  # a topic: what the last question was about
        return _ABOUT.sub(lambda m: f"about {x}", previous, count=1)
    if person and _SPEECH_PREV.search(previous):
        return f"What did {person} say about {x}?"
    return f"What about {x}?"
