"""Conversations: follow-up questions answered in the light of the turns before them.

A conversation belongs to one collection (one Discord server) and is found by a key: its id,
or another key an interface linked to it (the id of a message that showed one of its answers,
which is also the id of a Discord thread opened on that message). Its turns live in storage,
so a restart keeps them; at most ``max_turns`` are kept, each of bounded size, and a
conversation idle for ``idle_s`` seconds is gone.

Each turn remembers the question as asked and as read (``retrieval.followup``), the person it
was about, the names it brought up and the quotes shown. The next question is read with them,
and the articles and paragraphs they cited rank higher (a prior, never a filter: the bonuses
below are smaller than the gap between a passage that answers and one that does not).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from index.store import Conversation, ConversationStore, Span, Turn
from retrieval.followup import Reading, names_in, plain_name, proper_case, read
from retrieval.models import Answer, Prior
from retrieval.question import MAX_QUESTION_CHARS, analyse, clean_question

# Bonuses added to the fused score (cosine and BM25, each 0..1) of what earlier turns cited,
# halved for every turn further back; tuned on the follow-up chains' tuning split
# (docs/CONVERSATIONS.md).
ARTICLE_BONUS = 0.06
PARAGRAPH_BONUS = 0.04
EVENT_BONUS = 0.15  # "when was that?": the paragraph of the quote it points at
DECAY = 0.5
MAX_NAMES = 6
NAME_CHARS = 100
QUOTE_CHARS = 300
EXPIRE_EVERY_S = 60.0  # expired conversations are deleted at most this often (and never used)
_WHO = re.compile(r"^\W*(?:and\s+)?(?:who|whom)\b", re.I)


@dataclass(frozen=True)
class Context:
    """What a question brings to the answerer from its conversation."""

    collection: str
    conversation_id: str
    question: str  # as asked (cleaned)
    turns: tuple[Turn, ...]
    reading: Reading
    prior: Prior


class Conversations:
    """Reads and records the turns of conversations in one storage."""

    def __init__(self, storage: ConversationStore, *, idle_s: float, max_turns: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.idle_s = idle_s
        self.max_turns = max_turns
        self.clock = clock
        self._expired_at = float("-inf")

    def get(self, collection: str, key: str) -> Conversation | None:
        """The live conversation ``key`` names in the collection, or None."""
        now = self.clock()
        if now - self._expired_at >= EXPIRE_EVERY_S:
            self._expired_at = now
            self.storage.expire_conversations(now - self.idle_s)
        found = self.storage.conversation(collection, key)
        if found is not None and found.updated_at < now - self.idle_s:
            self._expired_at = now
            self.storage.expire_conversations(now - self.idle_s)
            return None
        return found

    def context(self, collection: str, key: str, question: str) -> Context:
        """How to answer ``question`` as the next turn of the conversation ``key`` names (a
        new conversation with that id when there is none)."""
        question = clean_question(question)
        found = self.get(collection, key)
        turns = found.turns if found is not None else ()
        reading = read(question, turns)
        return Context(collection, found.id if found is not None else key, question, turns,
                       reading, prior_of(turns, reading))

    def record(self, context: Context, answer: Answer) -> Answer:
        """Keep the answered question as the conversation's next turn; the answer as the
        interface shows it (the question as asked, and how it was read if that differs)."""
        if context.question:
            self.storage.append_turn(context.collection, context.conversation_id,
                                     turn_of(context, answer, self.clock()),
                                     max_turns=self.max_turns)
        read_as = context.reading.text
        return replace(answer, question=context.question,
                       read_as=read_as if read_as != context.question else None)

    def link(self, collection: str, key: str, new_key: str) -> None:
        """Let ``new_key`` name the conversation ``key`` names too (nothing if it is gone)."""
        found = self.get(collection, key)
        if found is not None:
            self.storage.link_conversation(collection, found.id, new_key)


def prior_of(turns: tuple[Turn, ...], reading: Reading) -> Prior:
    """The bonuses and exclusions the conversation's turns give the next answer."""
    articles: dict[str, float] = {}
    paragraphs: dict[tuple[str, int], float] = {}
    for age, turn in enumerate(reversed(turns)):
        weight = DECAY**age
        for span in turn.shown:
            articles[span.article_id] = max(articles.get(span.article_id, 0.0),
                                            ARTICLE_BONUS * weight)
            where = (span.article_id, span.paragraph)
            paragraphs[where] = max(paragraphs.get(where, 0.0), PARAGRAPH_BONUS * weight)
    if reading.kind == "event" and turns and turns[-1].shown:
        shown = turns[-1].shown
        event = shown[min(reading.points_at, len(shown) - 1)]
        paragraphs[(event.article_id, event.paragraph)] = EVENT_BONUS
    exclude = frozenset((s.article_id, s.paragraph, s.start) for t in turns for s in t.shown
                        ) if reading.exclude_shown else frozenset()
    return Prior(articles, paragraphs, exclude)


def _answered(read_as: str, names: list[str], answer: Answer) -> str | None:
    """Whom a "who" question is about afterwards: the speaker of the first quote ("who said
    ...?"), else the question's own person ("who did Pompeo meet?"), else the first name the
    quote adds ("who led the Panthers in sacks?" -> the player it names)."""
    first = answer.quotes[0]
    if first.speaker:
        return first.speaker
    if own := [n for n in names if not n.endswith("s")]:
        return own[0]
    added = [n for n in names_in(first.text) if n not in read_as]
    return next((n for n in added if " " in n), added[0] if added else None)


def turn_of(context: Context, answer: Answer, now: float) -> Turn:
    """The turn to keep: bounded (a question and its reading of at most MAX_QUESTION_CHARS,
    MAX_NAMES names, the quotes shown and their texts, each clipped to QUOTE_CHARS)."""
    read_as = context.reading.text[:MAX_QUESTION_CHARS]
    speakers = [plain_name(q.speaker) for q in answer.quotes if q.speaker]
    read_as = proper_case(read_as, speakers)  # "what did pompeo say" -> "... Pompeo ..."
    names = names_in(read_as)
    person = analyse(read_as).speaker
    if person is None and _WHO.match(context.question) and answer.quotes:
        person = _answered(read_as, names, answer)
    if person is None and names:
        person = names[0]
    person = plain_name(person)[:NAME_CHARS] if person else None
    names = [n[:NAME_CHARS] for n in names]
    shown = tuple(Span(q.citation.article_id, q.citation.paragraph, q.start, q.end)
                  for q in answer.quotes)
    quote = "\n".join(" ".join(q.text.split())[:QUOTE_CHARS] for q in answer.quotes)
    return Turn(context.question, read_as, person,
                tuple(n for n in names if n != person)[:MAX_NAMES], shown, quote, now)
