"""What the rankers read: features of a sentence (is it the one that answers?) and of a
passage (does it hold the answer?), each a number computed from the question, the passage
and what retrieval measured. Their weights are fitted on the tune side of the split
(``benchmarks/tune_ranking.py``) and kept in ``retrieval.weights``.
"""

from __future__ import annotations

import math
import re
from datetime import date
from functools import lru_cache

import numpy as np

from index.models import Passage
from index.text import content_words, words
from retrieval.fusion import DENSE_WEIGHT, fuse
from retrieval.models import RankedPassage
from retrieval.question import (
    Question,
    answer_type_match,
    background_weights,
    said_by,
    speaks,
    stem,
)

_QUOTE_MARKS = re.compile("[\"“”]")
_DATE = re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")


def published_date(published: str | None) -> date | None:
    """The calendar date of an article's "published" text (ISO or y/m/d), if it has one."""
    match = _DATE.search(published or "")
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


@lru_cache(maxsize=1 << 13)
def stems(text: str) -> frozenset[str]:
    """The stems of every word of a text (remembered: a passage is read by several
    features, and popular passages by many questions)."""
    return frozenset(stem(w) for w in words(text))


def pool_weights(question: str, documents: list[str]) -> dict[str, float]:
    """IDF-like weights of the question's stems over the retrieved passages."""
    keys = {stem(t) for t in content_words(question)}
    docs = [stems(d) for d in documents]
    n = len(docs) or 1
    return {t: math.log(1 + n / (1 + sum(t in d for d in docs))) for t in keys}


def covered(weights: dict[str, float], words: frozenset[str] | set[str]) -> float:
    """Share of the weight of ``weights`` whose stems are among ``words``."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in words) / total if total else 0.0


def sentence_text(passage: Passage, i: int) -> str:
    s = passage.sentences[i]
    return passage.text[s.start : s.end]


SENTENCE_FEATURES = (
    "passage_score", "passage_first", "passage_dense", "passage_lexical", "coverage",
    "coverage_bg", "neighbour_coverage", "type_match", "speaker_match", "speaker_other",
    "first_sentence", "log_words", "novel", "quoted",
)


class SentenceFeatures:
    """The features of every sentence of the best passages of one question."""

    def __init__(self, question: Question, ranked: list[RankedPassage]) -> None:
        self.question = question
        self.pool = pool_weights(question.text, [r.passage.text for r in ranked])
        self.background = background_weights(question.text)
        self.asked = stems(question.text)
        self.top_score = ranked[0].score if ranked else 0.0
        self.top_lexical = max((r.lexical for r in ranked), default=0.0) or 1.0

    def matrix(self, ranked: list[RankedPassage], passages: int,
               ) -> tuple[list[tuple[RankedPassage, int]], np.ndarray]:
        """The sentences of the first ``passages`` passages, and one row of features each."""
        candidates: list[tuple[RankedPassage, int]] = []
        rows: list[list[float]] = []
        for rank, r in enumerate(ranked[:passages]):
            for i, row in enumerate(self.rows(rank, r)):
                candidates.append((r, i))
                rows.append(row)
        x = np.array(rows, dtype=np.float64).reshape(len(rows), len(SENTENCE_FEATURES))
        return candidates, x

    def rows(self, rank: int, r: RankedPassage) -> list[list[float]]:
        """The features of each sentence of one passage."""
        p = r.passage
        texts = [sentence_text(p, j) for j in range(len(p.sentences))]
        words = [stems(t) for t in texts]
        cover = [covered(self.pool, w) for w in words]
        keys = self.question.speaker_keys
        passage = [r.score - self.top_score, float(rank == 0), r.dense,
                   r.lexical / self.top_lexical]
        out = []
        for i, text in enumerate(texts):
            neighbours = [cover[j] for j in (i - 1, i + 1) if 0 <= j < len(cover)]
            speaker = p.sentences[i].speaker
            said = said_by(speaker, keys)
            rare = {w for w in words[i] if len(w) > 3}
            out.append([
                *passage, cover[i], covered(self.background, words[i]),
                max(neighbours, default=0.0),
                answer_type_match(self.question.text, text), float(said),
                float(bool(keys and speaker and not said)), float(i == 0),
                math.log(1 + len(text.split())), len(rare - self.asked) / (len(rare) or 1),
                float(bool(_QUOTE_MARKS.search(text)))])
        return out


PASSAGE_FEATURES = (
    "dense", "lexical", "short", "recency", "type_match", "speaker", "coverage", "coverage_bg",
    "best_sentence_bg", "title_bg", "article_best", "article_share", "log_number", "log_words",
)


def recency(passage: Passage, today: date, days: float = 30.0) -> float:
    """exp(-age / days) for an article published ``age`` days before ``today``; 0 undated."""
    published = published_date(passage.article.published)
    if published is None:
        return 0.0
    return math.exp(-max((today - published).days, 0) / days)


def passage_matrix(question: Question, ranked: list[RankedPassage], today: date) -> np.ndarray:
    """One row of PASSAGE_FEATURES per retrieved passage."""
    pool = pool_weights(question.text, [r.passage.text for r in ranked])
    background = background_weights(question.text)
    top_lexical = max((r.lexical for r in ranked), default=0.0) or 1.0
    by_rank = fuse({i: r.dense for i, r in enumerate(ranked)},
                   {i: r.lexical for i, r in enumerate(ranked)}, DENSE_WEIGHT)
    fused = [by_rank[i] for i in range(len(ranked))]
    best: dict[str, float] = {}
    count: dict[str, int] = {}
    for r, f in zip(ranked, fused, strict=True):
        a = r.passage.article.id
        best[a] = max(best.get(a, -1.0), f)
        count[a] = count.get(a, 0) + 1
    top = max(fused, default=0.0)
    rows = []
    for r in ranked:
        p = r.passage
        words = stems(p.text)
        sentences = [covered(background, stems(sentence_text(p, i)))
                     for i in range(len(p.sentences))]
        rows.append([
            r.dense, r.lexical / top_lexical, float(len(p.text.split()) < 10),
            recency(p, today), answer_type_match(question.text, p.text),
            float(bool(question.speaker_keys) and speaks(p, question.speaker_keys)),
            covered(pool, words), covered(background, words), max(sentences, default=0.0),
            covered(background, stems(p.article.title)), best[p.article.id] - top,
            count[p.article.id] / len(ranked), math.log(p.number),
            math.log(1 + len(p.text.split())),
        ])
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(PASSAGE_FEATURES))
