"""When the event a quote told of happened: the answer to "when was that?".

The last answer's quote points at an event ("Ortiz said after the vote"); its time is a
sentence of the same article that carries a date or time expression beside the words of that
event ("The council voted 7-2 on Tuesday to build ... barrier"). The event's words are those
of the question the quote answered and of the quote's own narration, each weighed by how few
of the article's sentences hold it; words inside the quotation marks count less. The quote's
own sentence answers when the clause that tells the asked event (by the question's words)
holds a time ("approved the contract on Tuesday after a meeting"); a time in another of its
clauses dates something else ("will stay open starting next month, after residents signed a
petition"). Another sentence's clause dates the event only when it holds two of its words at
least, one of them a stronger one: "My basement took on a meter of water in October" shares
only "water" with what the mayor said about the water, and dates the basement's flood.
Without such a sentence the answer is the quote itself, with the article's publication date
said plainly as a note: never a sentence that dates something else.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

from index.models import Passage
from index.store import ArticleSearch
from index.text import SPEECH_QUESTION_WORDS, content_words, porter_stem
from retrieval.conversation import Context
from retrieval.features import sentence_text
from retrieval.models import Answer
from retrieval.quotes import make_quote

_MONTH = "January|February|March|April|May|June|July|August|September|October|November|December"
_COUNT = r"\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|several"
TIME = re.compile(
    rf"\b(?:(?:{_MONTH})(?:\s+\d{{1,2}})?(?:,?\s+\d{{4}})?\b"
    r"|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
    r"|(?:18|19|20)\d\d(?:-\d\d-\d\d)?\b"
    r"|(?i:yesterday|today|tonight|tomorrow)\b"
    r"|(?i:last|next|this|earlier|later)\s+(?i:week|month|year|night|morning|afternoon|evening"
    r"|weekend|spring|summer|fall|autumn|winter)\b"
    rf"|(?i:{_COUNT})\s+(?i:minutes?|hours?|days?|weeks?|months?|years?|decades?)\s+"
    r"(?i:ago|earlier|later|after|before)\b"
    r"|\d{1,2}(?::\d\d)?\s*(?:a\.m\.|p\.m\.))")
_CLAUSE = re.compile(r"[,;:\u2013\u2014]")
_QUOTED = re.compile(r"[\"\u201c][^\"\u201d]*[\"\u201d]")
_SPEECH = re.compile(SPEECH_QUESTION_WORDS, re.I)
# A capitalised word that does not begin a sentence, a quotation or a reading ("When: ...").
_NAME = re.compile(r"(?<![.!?:]\s)(?<!^)(?<![\"\u201c])\b[A-Z][\w'\u2019-]*")
_GENERIC = frozenset("happen happened happens take took place occur occurred also".split())
STRONG, WEAK = 2.0, 1.0  # the question's and the narration's words; the quoted speech's
STEM_ONLY = 0.5  # a word of the event found only by its stem
DISTANCE = 0.1  # a paragraph further from the quote's weighs this much less


@dataclass(frozen=True)
class Event:
    """The words of an event: how much each says of it."""

    weights: dict[str, float]  # the question's and the quote's words
    asked: dict[str, float]  # the question's words only (what weighs the quote's own sentence)


def event_of(question: str, quote: str) -> Event:
    """The event a quote told of in answer to ``question``. Names weigh as little as quoted
    words: a speaker's name is in every one of their quotes, each with its own time."""
    names = {n.lower() for n in _NAME.findall(f"{question} {quote}")}

    def weighed(text: str, weight: float) -> dict[str, float]:
        return {w: WEAK if w in names else weight for w in _words(text)}

    asked = weighed(question, STRONG)
    speech = " ".join(_QUOTED.findall(quote))
    weights = {**weighed(speech, WEAK), **weighed(_QUOTED.sub(" ", quote), STRONG), **asked}
    return Event(weights, asked)


def timed(storage: ArticleSearch, collection: str, context: Context, answer: Answer) -> Answer:
    """The answer to "when was that?" (``context.reading.asks == "when"``): the sentence that
    dates the event the last answer's quote told of, else that quote with the article's
    publication date as a note; ``answer`` as it is when the quote's article is gone."""
    last = context.turns[-1]
    if not last.shown:
        return answer
    at = min(context.reading.points_at, len(last.shown) - 1)
    shown = last.shown[at]
    quotes = last.quote.splitlines()
    event = event_of(f"{last.read_as} {context.question}",
                     quotes[min(at, len(quotes) - 1)] if quotes else "")
    if not event.weights:
        return answer
    hits = storage.lexical_search(collection, " ".join(event.weights), 1000,
                                  article_id=shown.article_id)
    passages = list(storage.passages(collection, [h.paragraph for h in hits]).values())
    own = next(((p, i) for p in passages if p.number == shown.paragraph
                for i, s in enumerate(p.sentences) if s.start == shown.start), None)
    if own is None:
        return answer
    dated = _dating(passages, event, own)
    passage, i = dated or own
    quote = make_quote(passage, i, answer.quotes[0].score if answer.quotes else 0.0)
    if quote is None:
        return answer
    note = None if dated else no_time(passage.article.published)
    return replace(answer, found=True, quotes=(quote,), note=note)


def no_time(published: str | None) -> str:
    """What the member is told when the article dates nothing of the event."""
    if published:
        return (f"The article gives no time for this; it was published on "
                f"{published[:10]}.")
    return "The article gives no time for this, and no publication date."


def _dating(passages: list[Passage], event: Event,
            own: tuple[Passage, int]) -> tuple[Passage, int] | None:
    """The quote's own sentence (``own``) when the clause telling its event holds a time;
    else the sentence of the article whose dated clause holds most of the event; else None."""
    spans = [(p, i, p.text[s.start:s.end]) for p in passages for i, s in enumerate(p.sentences)]
    held = Counter(porter_stem(w) for _, _, text in spans for w in set(_words(text)))
    said = sentence_text(*own)
    telling = max(_CLAUSE.split(said), key=lambda c: _clause_score(c, event.asked, held))
    if TIME.search(telling if _clause_score(telling, event.asked, held) else said):
        return own
    best: tuple[float, int, int] = (0.0, 0, 0)
    found: tuple[Passage, int] | None = None
    for passage, i, text in spans:
        if passage.id == own[0].id and i == own[1]:
            continue
        score = max((_clause_score(clause, event.weights, held, least=2)
                     for clause in _CLAUSE.split(text) if TIME.search(clause)), default=0.0)
        distance = abs(passage.number - own[0].number)
        key = (score / (1 + DISTANCE * distance), -distance, -passage.number)
        if score > 0 and key > best:
            best, found = key, (passage, i)
    return found


def _clause_score(clause: str, weights: dict[str, float], held: Counter[str], *,
                  least: int = 1) -> float:
    """The event's words in a clause, each by its weight over the number of sentences holding
    it, and by half when only its stem is there ("starting" for "started"); 0 unless one of
    them is a stronger word and there are at least ``least`` of them."""
    said = set(_words(clause))
    stems = {porter_stem(w) for w in said}
    by_stem: dict[str, float] = {}
    strong = False
    for word, weight in weights.items():
        stem = porter_stem(word)
        if stem in stems:
            value = weight * (1.0 if word in said else STEM_ONLY) / max(held[stem], 1)
            by_stem[stem] = max(by_stem.get(stem, 0.0), value)
            strong = strong or weight >= STRONG
    return sum(by_stem.values()) if strong and len(by_stem) >= least else 0.0


def _words(text: str) -> list[str]:
    """A text's content words, without words of speech, of time or of happening."""
    return [w for w in content_words(TIME.sub(" ", text))
            if w not in _GENERIC and not _SPEECH.fullmatch(w)]
