"""Answers written by a language model over citebot's own retrieval, every quote verified.

`Writer.write` takes the extractive answer (retrieval and quote choice stay citebot's), sends
the model the question, the thread's context and the best passages as numbered sentences,
and reads its statements as they come: each is checked (`claims.check`) and only checked
statements reach a draft or the answer; the quotes under them are the cited sentences' stored
text. On any failure (no answer within ``llm_timeout_s``, a refusal, a broken stream,
malformed output, nothing verifiable) the extractive answer is returned as it was.

The model is read on a thread of its own and waited for with a deadline, so a server that
stalls, drips text or sends only keep-alive comments costs at most the timeout. When the
waiting ends, the request is ended (`bounds.Guard.end` shuts its connection down) and the
thread, whose read then returns at once, is joined: nothing of the request is left behind. The
follow-up's rewrite is checked like a statement (`claims.check_rewrite`) before it is used.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from retrieval.models import Answer, Claim, Quote, Writing, Written
from retrieval.quotes import make_quote
from retrieval.written.bounds import TOO_LATE, Guard
from retrieval.written.claims import (
    CLAIMS_MAX,
    Checked,
    Statement,
    check,
    check_rewrite,
    leftover_statement,
    split_statements,
)
from retrieval.written.client import ChatClient, ModelError
from retrieval.written.options import WriterOptions
from retrieval.written.prompt import (
    CHARS_PER_TOKEN,
    Exchange,
    Source,
    answer_messages,
    rewrite_messages,
    sources_for,
)
from retrieval.written.support import rewrite_problem

log = logging.getLogger(__name__)

Draft = Callable[[Answer], None]
REWRITE_TOKENS = 100
REWRITE_MAX_CHARS = 500
READER_JOIN_S = 2.0  # a reader whose socket was shut down ends at once; this is a bound
TEXT_MAX_CHARS = 20_000  # more than any answer the token budget allows; a runaway stops here
_DONE = object()


@dataclass(frozen=True)
class Outcome:
    """What `Writer.write_outcome` did: the answer, and why it fell back (None if written)."""

    answer: Answer
    fallback: str | None
    seconds: float


class Writer:
    """Writes answers with the configured model; build once, reuse (thread-safe)."""

    def __init__(self, options: WriterOptions, client: ChatClient | None = None) -> None:
        self.options = options
        self.client = client or ChatClient(options.model)

    @classmethod
    def configured(cls, options: WriterOptions) -> Writer | None:
        """A writer when a language model is configured and its client can be built; None
        (quotes only, said once in the log) otherwise."""
        if not options.model.configured:
            return None
        writer = cls(options)
        try:
            writer.client.prepare()
        except ModelError as exc:
            log.warning("%s", exc)
            return None
        return writer

    @property
    def model(self) -> str:
        return self.client.model

    def write(self, answer: Answer, *, context: Sequence[Exchange] = (),
              on_draft: Draft | None = None) -> Answer:
        """The written answer over ``answer``'s passages, or ``answer`` itself on any
        failure; ``on_draft`` sees each draft (checked statements only) as it grows."""
        return self.write_outcome(answer, context=context, on_draft=on_draft).answer

    def write_outcome(self, answer: Answer, *, context: Sequence[Exchange] = (),
                      on_draft: Draft | None = None,
                      deadline: float | None = None) -> Outcome:
        """`write`, saying why it fell back."""
        start = time.monotonic()
        deadline = deadline or start + self.options.timeout_s
        if not answer.found:
            reason = "retrieval found no answer to write about"
            return Outcome(replace(answer, writing=Writing("fell back", reason)), reason, 0.0)
        sources = sources_for(answer.passages, passages=self.options.passages,
                              budget_chars=self.options.prompt_tokens * CHARS_PER_TOKEN)
        messages = answer_messages(answer.question, sources, context,
                                   budget_chars=self.options.prompt_tokens * CHARS_PER_TOKEN)
        reading = _Reading(answer, {s.sid: s for s in sources}, self.model, on_draft)
        try:
            for text in self._pieces(messages, deadline, self.options.max_tokens):
                reading.add(text)
            written = reading.finish()
        except ModelError as exc:
            return self._fell_back(answer, self.client.scrub(str(exc)), start, reading.text)
        except Exception as exc:  # never an error to the member: log once, fall back
            log.exception("written answer failed unexpectedly; answering with quotes only")
            return self._fell_back(answer, f"unexpected {type(exc).__name__}", start,
                                   reading.text)
        seconds = time.monotonic() - start
        outcome = "partly written" if reading.dropped else "written"
        return Outcome(replace(written, timings={**answer.timings, "write": seconds},
                               writing=Writing(outcome, None, reading.text)), None, seconds)

    def _fell_back(self, answer: Answer, reason: str, start: float, raw: str) -> Outcome:
        log.warning("answering with quotes only: %s", reason)
        return Outcome(replace(answer, writing=Writing("fell back", reason, raw)), reason,
                       time.monotonic() - start)

    def _pieces(self, messages: list[dict[str, str]], deadline: float,
                budget: int) -> Iterator[str]:
        """The model's text as it comes, read on a thread of its own; `ModelError` once the
        deadline passes."""
        pieces: queue.Queue[object] = queue.Queue()
        guard = Guard(deadline)

        def read() -> None:
            try:
                if self.options.stream:
                    for piece in self.client.stream(messages, budget, guard):
                        guard.check()  # ended by the waiting side: stop here
                        pieces.put(piece)
                else:
                    pieces.put(self.client.complete(messages, budget, guard))
                pieces.put(_DONE)
            except BaseException as exc:  # handed to the waiting side
                pieces.put(exc)

        reader = threading.Thread(target=read, name="citebot-model", daemon=True)
        reader.start()
        total = 0
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ModelError(TOO_LATE)
                try:
                    item = pieces.get(timeout=left)
                except queue.Empty:
                    raise ModelError(TOO_LATE) from None
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, str)
                total += len(item)
                if total > TEXT_MAX_CHARS:
                    raise ModelError("the model wrote far more than an answer")
                yield item
        finally:
            _end(reader, guard)

    def rewrite(self, question: str, context: Sequence[Exchange], *,
                deadline: float | None = None, otherwise: str | None = None) -> str:
        """A follow-up made standalone by the model (citebot still retrieves and verifies);
        ``otherwise`` (by default the question as asked) on any failure or doubtful output."""
        otherwise = otherwise or question
        if not context:
            return otherwise
        deadline = deadline or time.monotonic() + self.options.timeout_s
        messages = rewrite_messages(
            question, context, budget_chars=self.options.prompt_tokens * CHARS_PER_TOKEN)
        try:
            text = "".join(self._pieces_once(messages, deadline))  # a short, whole line
        except ModelError as exc:
            log.warning("read the follow-up without the model: %s", self.client.scrub(str(exc)))
            return otherwise
        line = standalone(text)
        if line is None:
            return otherwise
        known = [question, *(t for e in context for t in (e.question, e.answer))]
        problem = check_rewrite(line, known) or rewrite_problem(line, question, known)
        if problem:
            log.warning("read the follow-up without the model: %s", problem)
            return otherwise
        return line

    def _pieces_once(self, messages: list[dict[str, str]], deadline: float) -> Iterator[str]:
        try:
            yield from self._pieces(messages, deadline, REWRITE_TOKENS)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"unexpected {type(exc).__name__}") from None


def _end(reader: threading.Thread, guard: Guard) -> None:
    """The request ended (its connection shut, if still open) and its reader gone."""
    if reader.is_alive():
        guard.end("the answer was no longer waited for")
        reader.join(READER_JOIN_S)
        if reader.is_alive():  # still connecting (a name lookup): it ends when that does
            log.warning("the model's reader is still connecting after its deadline")


def standalone(text: str) -> str | None:
    """The rewritten question, if it looks like one: a single line of words, not too long."""
    line = " ".join(text.split()).strip().strip("\"'“”")
    if not line or len(line) > REWRITE_MAX_CHARS or "\n" in text.strip():
        return None
    if not any(c.isalpha() for c in line):
        return None
    return line


class _Reading:
    """The model's text so far, its checked statements, and the drafts they make."""

    def __init__(self, answer: Answer, given: dict[str, Source], model: str,
                 on_draft: Draft | None) -> None:
        self.answer = answer
        self.given = given
        self.model = model
        self.on_draft = on_draft
        self.text = ""
        self.seen = 0  # statements already checked
        self.kept: list[Checked] = []
        self.dropped: list[str] = []

    def add(self, piece: str) -> None:
        self.text += piece
        statements, _ = split_statements(self.text, final=False)
        if self._take(statements[self.seen :]) and self.on_draft is not None:
            self.on_draft(self._answer(complete=False))

    def finish(self) -> Answer:
        statements, rest = split_statements(self.text, final=True)
        self._take(statements[self.seen :])
        leftover = leftover_statement(rest)
        if leftover is not None and self.kept:
            self.dropped.append("a statement without a citation")
        if not self.kept:
            why = "; ".join(dict.fromkeys(self.dropped)) or "no statement with a citation"
            raise ModelError(f"nothing verifiable in the model's answer ({why})")
        return self._answer(complete=True)

    def _take(self, statements: list[Statement]) -> bool:
        """Check new statements; whether any was kept."""
        grew = False
        for statement in statements:
            self.seen += 1
            if len(self.kept) >= CLAIMS_MAX:
                continue
            result = check(statement, self.given, self.answer.question)
            if isinstance(result, str):
                log.info("dropped a statement of the model: %s", result)
                self.dropped.append(result)
            else:
                self.kept.append(result)
                grew = True
        return grew

    def _answer(self, *, complete: bool) -> Answer:
        """An answer of the checked statements, numbered by the quotes they cite, under
        citebot's own best quote first, whatever the model cited."""
        numbers: dict[str, int] = {}
        quotes: list[Quote] = list(self.answer.quotes[:1])
        claims: list[Claim] = []
        for checked in self.kept:
            refs: list[int] = []
            for source in checked.sources:
                if source.sid not in numbers:
                    quote = make_quote(source.passage, source.index, 1.0)
                    if quote is None:  # not verbatim in storage: never shown
                        continue
                    same = [i for i, q in enumerate(quotes, 1) if _same(q, quote)]
                    if not same:
                        quotes.append(quote)
                    numbers[source.sid] = same[0] if same else len(quotes)
                refs.append(numbers[source.sid])
            if refs:
                claims.append(Claim(checked.prose, tuple(refs)))
        written = Written(tuple(claims), tuple(self.dropped), self.model, complete)
        return replace(self.answer, quotes=tuple(quotes), written=written)


def _same(a: Quote, b: Quote) -> bool:
    """Whether two quotes are the same span of the same paragraph."""
    return (a.citation.article_id, a.citation.paragraph, a.start, a.end) == (
        b.citation.article_id, b.citation.paragraph, b.start, b.end)
