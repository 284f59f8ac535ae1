"""Answering a question: embed it once, retrieve, choose verbatim quotes, or say not found."""

from __future__ import annotations

import time

from config.settings import Settings
from index.embed import Embedder
from index.storage import Storage
from retrieval.models import Answer
from retrieval.quotes import QuoteSelector
from retrieval.search import HybridSearcher, analyse

MAX_QUESTION_CHARS = 1_000


class Answerer:
    """Turns questions into cited answers over one storage; build once, reuse."""

    def __init__(self, *, settings: Settings, storage: Storage, embedder: Embedder) -> None:
        self.settings = settings
        self.storage = storage
        self.embedder = embedder
        self.searcher = HybridSearcher(storage, candidates=settings.candidates)
        self.selector = QuoteSelector(embed=embedder.embed, max_quotes=settings.max_quotes)

    def ask(self, collection: str, question: str, *, article_id: str | None = None) -> Answer:
        """The best verbatim quotes answering ``question`` from ``collection``."""
        question = " ".join(question.split())[:MAX_QUESTION_CHARS]
        if not question:
            return Answer(question, False, (), ())
        t0 = time.perf_counter()
        info = analyse(question)
        query = self.embedder.embed_query(question)
        t1 = time.perf_counter()
        ranked = self.searcher.search(collection, info, query, max(self.settings.passages, 5),
                                      article_id)
        t2 = time.perf_counter()
        relevance = max((r.dense for r in ranked[:3]), default=0.0)
        quotes = self.selector.select(info, query, ranked) if ranked else []
        t3 = time.perf_counter()
        found = bool(quotes) and relevance >= self.settings.min_score
        timings = {"embed": t1 - t0, "search": t2 - t1, "quotes": t3 - t2}
        return Answer(question, found, tuple(quotes) if found else (), tuple(ranked),
                      info.speaker, timings)
