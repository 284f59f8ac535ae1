"""Choosing the sentences that answer a question, and proving they are verbatim."""

from __future__ import annotations

import logging

from index.models import Passage
from retrieval.models import Citation, Prior, Quote, RankedPassage
from retrieval.question import Question
from retrieval.rank import SentenceRanker, SentenceScorer

log = logging.getLogger(__name__)


class QuoteSelector:
    """Keeps the best one to three sentences of the best passages, by the learned sentence
    score: the first is the one most likely to answer; a further one only while it is close
    (within ``margin`` of the first, in log-odds)."""

    def __init__(self, *, ranker: SentenceScorer | None = None, max_quotes: int = 3,
                 margin: float = 1.0) -> None:
        self.ranker = ranker or SentenceRanker()
        self.max_quotes = max_quotes
        self.margin = margin

    def select(self, question: Question, ranked: list[RankedPassage],
               prior: Prior | None = None) -> list[Quote]:
        """Verified quotes, best first (empty when there is nothing to quote); a sentence
        repeated word for word (a headline echoed in the text) is quoted once; none that
        ``prior`` says were shown already."""
        return self.quotes(self.score(question, ranked, prior))

    def score(self, question: Question, ranked: list[RankedPassage],
              prior: Prior | None = None) -> list[tuple[float, RankedPassage, int]]:
        """(score, passage, sentence index) of the candidate sentences, best first. With a
        conversation's ``prior``, the sentences it showed already are left out, and so are
        passages with nothing else to show ("what else" brings new quotes)."""
        if prior is None or not prior.exclude:
            return self.ranker.score(question, ranked)

        def fresh(r: RankedPassage, i: int) -> bool:
            return not prior.excludes(r.passage, r.passage.sentences[i].start)

        pool = [r for r in ranked if any(fresh(r, i) for i in range(len(r.passage.sentences)))]
        return [t for t in self.ranker.score(question, pool) if fresh(t[1], t[2])]

    def quotes(self, scored: list[tuple[float, RankedPassage, int]]) -> list[Quote]:
        """Quotes of scored sentences (best first), as ``select`` keeps them."""
        if not scored:
            return []
        best = scored[0][0]
        quotes: list[Quote] = []
        for score, r, i in scored:
            if len(quotes) >= self.max_quotes or (quotes and score < best - self.margin):
                break
            quote = make_quote(r.passage, i, score)
            if quote is not None and all(q.text != quote.text for q in quotes):
                quotes.append(quote)
        return quotes


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
