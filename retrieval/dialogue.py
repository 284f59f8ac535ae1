"""Answering a question alone or as the next turn of a conversation, and written by a language
model when one is asked for: the order of the parts, each of which lives elsewhere
(``answer``, ``conversation``, ``written``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from retrieval.answer import Answerer
from retrieval.conversation import Context, Conversations
from retrieval.event_time import timed
from retrieval.models import Answer
from retrieval.written import Exchange, Writer

Draft = Callable[[Answer], None]


@dataclass(frozen=True)
class Dialogue:
    """The answerer, the conversations and (to write answers) the writer, for one question."""

    answerer: Answerer
    conversations: Conversations
    writer: Writer | None = None

    def ask(self, collection: str, question: str, *, article_id: str | None = None,
            as_of: date | None = None, conversation: str | None = None,
            on_draft: Draft | None = None) -> Answer:
        """The cited answer (``Answerer.ask``), written by the writer if there is one. With
        ``conversation`` (a checked key), read as a follow-up of that conversation's turns and
        kept as its next turn; a follow-up is first made standalone by the writer."""
        if conversation is None:
            answer = self.answerer.ask(collection, question, article_id=article_id, as_of=as_of)
            return self.writer.write(answer, on_draft=on_draft) if self.writer else answer
        context = self.conversations.context(collection, conversation, question)
        exchanges = [Exchange(t.read_as or t.question, t.quote) for t in context.turns]
        deadline = None  # the model's time starts with its first call
        if self.writer is not None and exchanges:
            deadline = time.monotonic() + self.writer.options.timeout_s
            context = self._rewritten(context, exchanges, deadline)
        answer = self.answerer.ask(collection, context.reading.text, article_id=article_id,
                                   as_of=as_of, prior=context.prior)
        if context.reading.asks == "when":  # "when was that?": the time of the quote's event
            answer = timed(self.answerer.storage, collection, context, answer)
        if self.writer is not None:
            asked = context.question  # drafts show the question as asked, as the answer does
            drafts = None if on_draft is None else (
                lambda draft: on_draft(replace(draft, question=asked)))
            answer = self.writer.write_outcome(answer, context=exchanges, on_draft=drafts,
                                               deadline=deadline).answer
        return self.conversations.record(context, answer)

    def _rewritten(self, context: Context, exchanges: list[Exchange],
                   deadline: float) -> Context:
        """The context with the follow-up made standalone by the model (as read by the rules
        on any failure)."""
        assert self.writer is not None
        standalone = self.writer.rewrite(context.question, exchanges, deadline=deadline,
                                         otherwise=context.reading.text)
        return replace(context, reading=replace(context.reading, text=standalone))
