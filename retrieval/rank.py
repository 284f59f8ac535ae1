"""The learned part of answering: which passages first, which sentence first, and whether the
best of them answers at all. Each is a linear model over ``retrieval.features``, with weights
fitted on the tune side of the split (``benchmarks/tune_ranking.py``, ``retrieval.weights``).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from typing import Protocol

import numpy as np

from retrieval.features import (
    PASSAGE_FEATURES,
    SENTENCE_FEATURES,
    SentenceFeatures,
    covered,
    passage_matrix,
    sentence_text,
    stems,
)
from retrieval.models import Prior, RankedPassage
from retrieval.question import Question, answer_type_match, background_weights, speaks
from retrieval.weights import FOUND_BIAS, FOUND_WEIGHTS, PASSAGE_WEIGHTS, SENTENCE_WEIGHTS

FOUND_FEATURES = ("dense_best", "dense_top", "sentence_bg", "window_bg", "passage_bg",
                  "speaker", "type_match", "titled_bg")


def vector(weights: dict[str, float], features: tuple[str, ...]) -> np.ndarray:
    """The weights in the order of ``features`` (a feature without a weight weighs 0)."""
    return np.array([weights.get(f, 0.0) for f in features])


class PassageRanker:
    """Re-orders retrieved passages by the learned passage score (its logit)."""

    def __init__(self, weights: dict[str, float] | None = None) -> None:
        self.w = vector(PASSAGE_WEIGHTS if weights is None else weights, PASSAGE_FEATURES)

    def rerank(self, question: Question, ranked: list[RankedPassage], today: date,
               prior: Prior | None = None) -> list[RankedPassage]:
        """The passages best first, each with its learned score. A conversation's ``prior``
        adds its bonuses, which are in units of cosine (``retrieval.conversation``), at the
        model's own weight for cosine: a cited paragraph counts as if it were that much
        closer to the question."""
        if not ranked:
            return []
        scores = passage_matrix(question, ranked, today) @ self.w
        if prior is not None:
            cosine = self.w[PASSAGE_FEATURES.index("dense")]
            scores = scores + cosine * np.array([prior.bonus(r.passage) for r in ranked])
        order = np.argsort(-scores, kind="stable")
        return [replace(ranked[i], score=float(scores[i])) for i in order]


class SentenceScorer(Protocol):
    """What the quote selector needs of a sentence ranking: the linear one (``SentenceRanker``)
    or the reader's (``retrieval.reading.ReadingRanker``)."""

    def score(self, question: Question, ranked: list[RankedPassage],
              ) -> list[tuple[float, RankedPassage, int]]: ...


class SentenceRanker:
    """Scores the sentences of the best passages: is this the sentence that answers?"""

    def __init__(self, weights: dict[str, float] | None = None, passages: int = 3) -> None:
        self.w = vector(SENTENCE_WEIGHTS if weights is None else weights, SENTENCE_FEATURES)
        self.passages = passages

    def score(self, question: Question, ranked: list[RankedPassage],
              ) -> list[tuple[float, RankedPassage, int]]:
        """(score, passage, sentence index) of every candidate sentence, best first."""
        candidates, x = SentenceFeatures(question, ranked).matrix(ranked, self.passages)
        scores = x @ self.w
        out = [(float(s), r, i) for s, (r, i) in zip(scores, candidates, strict=True)]
        return sorted(out, key=lambda t: -t[0])


def found_features(question: Question, ranked: list[RankedPassage],
                   best: tuple[RankedPassage, int] | None) -> np.ndarray:
    """What "not found" is decided on; none of it depends on what else is indexed: cosines,
    the share of the question's background-weighted words in the best sentence, its window
    (with its neighbours) and its passage, the person asked about quoted, the kind of answer
    asked for present, and the window's share again with the article's title (an article
    names its subject in the headline and then says "the secretary of state")."""
    if not ranked or best is None:
        return np.zeros(len(FOUND_FEATURES))
    r, i = best
    p = r.passage
    weights = background_weights(question.text)
    text = sentence_text(p, i)
    window = " ".join(sentence_text(p, j) for j in range(max(0, i - 1),
                                                         min(len(p.sentences), i + 2)))
    keys = question.speaker_keys
    return np.array([
        max(x.dense for x in ranked[:3]), ranked[0].dense, covered(weights, stems(text)),
        covered(weights, stems(window)), covered(weights, stems(p.text)),
        float(bool(keys) and any(speaks(x.passage, keys) for x in ranked[:3])),
        answer_type_match(question.text, text),
        covered(weights, stems(window) | stems(p.article.title))])


def relevance(features: np.ndarray, weights: dict[str, float] | None = None,
              bias: float | None = None) -> float:
    """The learned probability that the best sentence answers (compared with
    ``CITEBOT_MIN_SCORE``)."""
    w = vector(FOUND_WEIGHTS if weights is None else weights, FOUND_FEATURES)
    z = float(features @ w) + (FOUND_BIAS if bias is None else bias)
    return 1 / (1 + math.exp(-max(min(z, 50.0), -50.0)))
