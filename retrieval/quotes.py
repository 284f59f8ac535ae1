"""Choosing the sentences that answer a question, and proving they are verbatim."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np

from index.ingest.speakers import name_keys
from index.models import Passage
from index.text import content_words, prefix_stem
from index.text import words as words_of
from retrieval.models import Citation, Prior, Quote, RankedPassage
from retrieval.search import Question, answer_type_match

log = logging.getLogger(__name__)

class QuoteSelector:
    """Scores every sentence of the best passages and keeps the best one to three."""

    def __init__(self, *, embed: Callable[[list[str]], np.ndarray] | None, max_quotes: int = 3,
                 passages: int = 3, keep_ratio: float = 0.85, type_bonus: float = 0.1) -> None:
        self.type_bonus = type_bonus
        self.embed = embed
        self.max_quotes = max_quotes
        self.passages = passages
        self.keep_ratio = keep_ratio

    def select(self, question: Question, query: np.ndarray, ranked: list[RankedPassage],
               prior: Prior | None = None) -> list[Quote]:
        """Verified quotes, best first (empty when there is nothing to quote); none that
        ``prior`` says were shown already."""
        def fresh(r: RankedPassage, i: int) -> bool:
            return prior is None or not prior.excludes(r.passage, r.passage.sentences[i].start)

        pool = [r for r in ranked if not prior or not prior.exclude
                or any(fresh(r, i) for i in range(len(r.passage.sentences)))][: self.passages]
        sentences = [(r, i) for r in pool for i in range(len(r.passage.sentences)) if fresh(r, i)]
        if not sentences:
            return []
        texts = [_sentence_text(r.passage, i) for r, i in sentences]
        weights = _term_weights(question.text, [r.passage.text for r in ranked])
        total = sum(weights.values()) or 1.0
        if self.embed:
            dense = self.embed(texts) @ query
            mix = (0.45, 0.35)
        else:  # without sentence vectors, the question's words carry the choice
            dense, mix = np.zeros(len(texts)), (0.0, 0.8)
        top_score = max(r.score for r in pool) or 1.0
        scored: list[tuple[float, RankedPassage, int]] = []
        for (r, i), text, d in zip(sentences, texts, dense, strict=True):
            words = {prefix_stem(w) for w in words_of(text)}
            lexical = sum(w for t, w in weights.items() if t in words) / total
            score = mix[0] * float(d) + mix[1] * lexical + 0.2 * (r.score / top_score)
            score += self.type_bonus * answer_type_match(question.text, text)
            speaker = r.passage.sentences[i].speaker
            if question.speaker_keys and speaker and name_keys(speaker) & question.speaker_keys:
                score += 0.3
            scored.append((score, r, i))
        scored.sort(key=lambda t: -t[0])
        best = scored[0][0]
        quotes: list[Quote] = []
        used: set[tuple[int, int]] = set()
        for score, r, i in scored:
            if len(quotes) >= self.max_quotes or (quotes and score < self.keep_ratio * best):
                break
            if (r.passage.id, i) in used:
                continue
            used.add((r.passage.id, i))
            quote = make_quote(r.passage, i, score)
            if quote is not None:
                quotes.append(quote)
        return quotes


def coverage(question: str, text: str, pool: list[str]) -> float:
    """Share of the question's term weight (IDF over the retrieved pool) found in ``text``."""
    weights = _term_weights(question, pool)
    total = sum(weights.values())
    if not total:
        return 0.0
    words = {prefix_stem(w) for w in words_of(text)}
    return sum(w for t, w in weights.items() if t in words) / total


def _sentence_text(passage: Passage, i: int) -> str:
    s = passage.sentences[i]
    return passage.text[s.start : s.end]


def _term_weights(question: str, documents: list[str]) -> dict[str, float]:
    """IDF-like weights of the question's stems over the retrieved passages."""
    stems = {prefix_stem(t) for t in content_words(question)}
    docs = [{prefix_stem(w) for w in words_of(d)} for d in documents]
    n = len(docs) or 1
    return {t: math.log(1 + n / (1 + sum(t in d for d in docs))) for t in stems}


def make_quote(passage: Passage, i: int, score: float) -> Quote | None:
    """A quote of sentence i of a passage, or None if it would not be verbatim."""
    s = passage.sentences[i]
    text = passage.text[s.start : s.end]
    quote = Quote(text, citation(passage), s.start, s.end, s.speaker, score)
    return quote if verify(quote, passage) else None


def citation(passage: Passage) -> Citation:
    a = passage.article
    return Citation(a.id, a.title, a.source, a.url, a.published, passage.number)


def verify(quote: Quote, passage: Passage) -> bool:
    """True when the quote is exactly the stored paragraph's text at its span."""
    ok = (
        quote.citation.article_id == passage.article.id
        and quote.citation.paragraph == passage.number
        and bool(quote.text.strip())
        and passage.text[quote.start : quote.end] == quote.text
    )
    if not ok:
        log.error("dropped a quote that is not verbatim in %s paragraph %d",
                  passage.article.id, passage.number)
    return ok
