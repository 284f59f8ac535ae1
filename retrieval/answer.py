"""Answering a question: embed it once, retrieve, re-rank, choose verbatim quotes, or say
not found."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from index.encode.embed import Embedder
from index.store import Storage
from retrieval.models import Answer, Prior
from retrieval.question import MAX_QUESTION_CHARS, analyse, clean_question
from retrieval.quotes import QuoteSelector
from retrieval.rank import PassageRanker, found_features, relevance
from retrieval.reading import ReadingRanker, Scorer
from retrieval.search import HybridSearcher

if TYPE_CHECKING:
    from config.settings import Settings

DEPTH = 40  # passages re-ranked per question
__all__ = ["DEPTH", "MAX_QUESTION_CHARS", "AnswerOptions", "Answerer", "clean_question"]


@dataclass(frozen=True)
class AnswerOptions:
    """What answering reads of the settings: candidates taken from each retriever, passages
    returned, quotes shown at most, and the least probability of an answer."""

    candidates: int
    passages: int
    max_quotes: int
    min_score: float

    @classmethod
    def from_settings(cls, settings: Settings) -> AnswerOptions:
        return cls(candidates=settings.candidates, passages=settings.passages,
                   max_quotes=settings.max_quotes, min_score=settings.min_score)


class Answerer:
    """Turns questions into cited answers over one storage; build once, reuse."""

    def __init__(self, *, options: AnswerOptions, storage: Storage, embedder: Embedder,
                 reader: Scorer | None = None) -> None:
        self.options = options
        self.storage = storage
        self.embedder = embedder
        self.searcher = HybridSearcher(storage, candidates=options.candidates)
        self.ranker = PassageRanker()
        self.reader = reader
        self.selector = QuoteSelector(
            ranker=ReadingRanker(reader) if reader is not None else None,
            max_quotes=options.max_quotes)

    def ask(self, collection: str, question: str, *, article_id: str | None = None,
            as_of: date | None = None, prior: Prior | None = None) -> Answer:
        """The best verbatim quotes answering ``question`` from ``collection``; with ``as_of``,
        as it would have been answered that day (later articles left out); with ``prior``, in
        the light of a conversation (see ``retrieval.conversation``).

        Found or not is decided on the best sentence and its passage alone (cosines, the
        share of the question's rarer words in English at large), never on what else is
        indexed, so that it holds for one article as for a million.
        """
        question = clean_question(question)
        if not question:
            return Answer(question, False, (), ())
        t0 = time.perf_counter()
        info = analyse(question)
        query = self.embedder.embed_query(question)
        t1 = time.perf_counter()
        found_by_search = self.searcher.search(collection, info, query, DEPTH, article_id, as_of,
                                               prior)
        ranked = self.ranker.rerank(info, found_by_search, as_of or datetime.now(UTC).date(),
                                    prior)
        ranked = ranked[: max(self.options.passages, 5)]
        t2 = time.perf_counter()
        scored = self.selector.score(info, ranked, prior)
        quotes = self.selector.quotes(scored)
        best = (scored[0][1], scored[0][2]) if scored else None
        score = relevance(found_features(info, ranked, best))
        if best is not None and self.reader is not None:  # the passage read as answering first
            ranked = [best[0], *(r for r in ranked if r is not best[0])]
        t3 = time.perf_counter()
        found = bool(quotes) and score >= self.options.min_score
        timings = {"embed": t1 - t0, "search": t2 - t1, "quotes": t3 - t2}
        return Answer(question, found, tuple(quotes) if found else (), tuple(ranked),
                      info.speaker, score, timings)
