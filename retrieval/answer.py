"""Answering a question: embed it once, retrieve, choose verbatim quotes, or say not found."""

from __future__ import annotations

import time
from datetime import date

from config.settings import Settings
from index.encode.embed import Embedder
from index.ingest.clean import replace_lone_surrogates
from index.store import Storage
from retrieval.models import Answer, Prior, RankedPassage
from retrieval.quotes import QuoteSelector, coverage
from retrieval.search import HybridSearcher, Question, analyse, speaks

MAX_QUESTION_CHARS = 1_000
SPEAKER_BONUS = 0.1


def clean_question(question: str) -> str:
    """A question as citebot reads it: whitespace folded, at most MAX_QUESTION_CHARS."""
    return replace_lone_surrogates(" ".join(question.split()))[:MAX_QUESTION_CHARS]


class Answerer:
    """Turns questions into cited answers over one storage; build once, reuse."""

    def __init__(self, *, settings: Settings, storage: Storage, embedder: Embedder) -> None:
        self.settings = settings
        self.storage = storage
        self.embedder = embedder
        self.searcher = HybridSearcher(storage, candidates=settings.candidates)
        dense = settings.quote_scoring == "dense"
        self.selector = QuoteSelector(embed=embedder.embed if dense else None,
                                      max_quotes=settings.max_quotes)

    def ask(self, collection: str, question: str, *, article_id: str | None = None,
            as_of: date | None = None, prior: Prior | None = None) -> Answer:
        """The best verbatim quotes answering ``question`` from ``collection``; with ``as_of``,
        as it would have been answered that day (later articles left out); with ``prior``, in
        the light of a conversation (see ``retrieval.conversation``)."""
        question = clean_question(question)
        if not question:
            return Answer(question, False, (), ())
        t0 = time.perf_counter()
        info = analyse(question)
        query = self.embedder.embed_query(question)
        t1 = time.perf_counter()
        ranked = self.searcher.search(collection, info, query, max(self.settings.passages, 5),
                                      article_id, as_of, prior)
        t2 = time.perf_counter()
        relevance = self.relevance(info, ranked)
        quotes = self.selector.select(info, query, ranked, prior) if ranked else []
        t3 = time.perf_counter()
        found = bool(quotes) and relevance >= self.settings.min_score
        timings = {"embed": t1 - t0, "search": t2 - t1, "quotes": t3 - t2}
        return Answer(question, found, tuple(quotes) if found else (), tuple(ranked),
                      info.speaker, relevance, timings)

    @staticmethod
    def relevance(question: Question, ranked: list[RankedPassage]) -> float:
        """How well the best passages match: half the best cosine, half the share of the
        question's rarer words found in the top passage, and a bonus when the person the
        question asks about is quoted there. Calibrated in docs/EVALUATION.md."""
        if not ranked:
            return 0.0
        dense = max(r.dense for r in ranked[:3])
        pool = [r.passage.text for r in ranked]
        lexical = coverage(question.text, ranked[0].passage.text, pool)
        quoted = bool(question.speaker_keys) and any(
            speaks(r.passage, question.speaker_keys) for r in ranked[:3])
        return 0.5 * dense + 0.5 * lexical + (SPEAKER_BONUS if quoted else 0.0)
