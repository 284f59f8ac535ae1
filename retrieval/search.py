"""Hybrid retrieval: dense (vectors) and lexical (BM25) candidates, fused, then re-scored for
questions about what someone said."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import numpy as np

from index.models import Passage
from index.store import ArticleSearch
from retrieval.features import published_date
from retrieval.fusion import DENSE_WEIGHT, fuse
from retrieval.models import Prior, RankedPassage
from retrieval.question import Question, answer_type_match, speaks

PRIOR_ARTICLES = 2  # a conversation's most cited articles that add candidates of their own


class HybridSearcher:
    """Dense + BM25 candidates, fused linearly, then speaker-aware re-scoring.

    Every candidate of either retriever gets its exact cosine and its BM25 score over all of
    the question's words (normalised by the best BM25 of the question); the fused score is
    ``w * cosine + (1 - w) * bm25``, plus small bonuses when a passage holds the kind of
    answer asked for (a number for "how many", a name for "who") and quotes the person asked
    about, a penalty for passages too short to answer (headings, link lines) and a recency
    bonus (see ``search``). The weights were tuned with ``citebot eval`` (docs/EVALUATION.md).
    """

    def __init__(self, storage: ArticleSearch, *, candidates: int = 30,
                 dense_weight: float = DENSE_WEIGHT,
                 speaker_boost: float = 0.15, type_bonus: float = 0.08,
                 recency_bonus: float = 0.05, recency_days: float = 30.0,
                 short_penalty: float = 0.12, short_words: int = 10,
                 prior_candidates: int = 10) -> None:
        self.storage = storage
        self.prior_candidates = prior_candidates
        self.short_penalty = short_penalty
        self.short_words = short_words
        self.recency_bonus = recency_bonus
        self.recency_days = recency_days
        self.type_bonus = type_bonus
        self.candidates = candidates
        self.dense_weight = dense_weight
        self.speaker_boost = speaker_boost

    def search(self, collection: str, question: Question, query: np.ndarray, k: int,
               article_id: str | None = None, as_of: date | None = None,
               prior: Prior | None = None) -> list[RankedPassage]:
        """The k most relevant passages of a collection, best first.

        News is asked about as it happens: a passage gains up to ``recency_bonus`` the more
        recently its article was published before ``as_of`` (today when None), and with an
        explicit ``as_of`` articles published after that day are left out, as they were not
        yet written (what ``citebot eval`` uses to replay questions on their dates). In a
        conversation, ``prior`` adds the articles it cited to the candidates and its bonuses to
        their passages' scores.
        """
        dense, lexical, own = self._candidates(collection, question, query, article_id, prior)
        fused = fuse(dense, lexical, self.dense_weight)
        top = sorted(fused, key=lambda p: -fused[p])[: max(k, 20 if as_of is None else 40)]
        top += [p for p in sorted(own, key=lambda p: -fused[p]) if p not in top]
        passages = self.storage.passages(collection, top)
        today = as_of or datetime.now(UTC).date()
        ranked = []
        for pid in top:
            if pid not in passages:
                continue
            score = self._rescore(question, passages[pid], fused[pid], today, as_of, prior)
            if score is not None:
                ranked.append(RankedPassage(passages[pid], score, dense.get(pid, 0.0),
                                            lexical.get(pid, 0.0)))
        ranked.sort(key=lambda r: -r.score)
        return ranked[:k]

    def _rescore(self, question: Question, passage: Passage, fused: float, today: date,
                 as_of: date | None, prior: Prior | None) -> float | None:
        """A candidate's fused score with the prior's bonus, the short-passage penalty and the
        recency, answer-type and speaker bonuses; None for an article published after
        ``as_of``."""
        score = fused + (prior.bonus(passage) if prior else 0.0)
        if len(passage.text.split()) < self.short_words:  # a heading, a link line
            score -= self.short_penalty
        published = published_date(passage.article.published)
        if published is not None:
            if as_of is not None and published > as_of:
                return None
            age = max((today - published).days, 0)
            score += self.recency_bonus * math.exp(-age / self.recency_days)
        score += self.type_bonus * answer_type_match(question.text, passage.text)
        if question.speaker_keys and speaks(passage, question.speaker_keys):
            score += self.speaker_boost
        return score

    def _candidates(self, collection: str, question: Question, query: np.ndarray,
                    article_id: str | None, prior: Prior | None,
                    ) -> tuple[dict[int, float], dict[int, float], list[int]]:
        """(cosine, BM25) of every candidate, and the candidates taken from the articles a
        conversation cited (the best ``prior_candidates`` of its most cited articles)."""
        dense = dict(self.storage.dense_search(collection, query, self.candidates, article_id))
        own: list[int] = []
        if prior is not None and article_id is None:
            cited = sorted(prior.articles, key=lambda a: -prior.articles[a])[:PRIOR_ARTICLES]
            for aid in cited:
                hits = self.storage.dense_search(collection, query, self.prior_candidates, aid)
                own += [h.paragraph for h in hits]
                dense.update(hits)
        lexical = dict(self.storage.lexical_search(collection, question.text, self.candidates,
                                                   article_id, also=list(dense)))
        missing = [p for p in lexical if p not in dense]
        if missing:
            dense.update(self.storage.dense_scores(collection, missing, query))
        return dense, lexical, own
