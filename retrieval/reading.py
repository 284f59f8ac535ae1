"""The reader's part of choosing the quote: the linear sentence ranking's best few sentences
read again, each together with the question, by the reader trained here
(``index.encode.reader``), and ordered by the reader's logit plus the linear score at the
weight the two were trained with (``benchmarks/train_reader.py --residual``).

The reader reads only the ``read`` best sentences of the linear ranking (an answering one is
among them for 98% of the tune side's questions): the rest keep their linear order after them.
The combined score is in log-odds, as the linear one is, so the quote selector's margin keeps
its meaning.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from index.encode.reader import reader_pair
from retrieval.features import sentence_text
from retrieval.models import RankedPassage
from retrieval.question import Question
from retrieval.rank import SentenceRanker

READ = 8  # sentences read per question (of the linear ranking's best passages)


class Scorer(Protocol):
    """What reading needs of a reader: a logit per (question, sentence) pair."""

    name: str
    linear_weight: float

    def score(self, pairs: list[tuple[str, str]], batch: int = 1) -> np.ndarray: ...


class ReadingRanker:
    """A sentence ranker: the linear ranking, then its best ``read`` sentences by the reader."""

    def __init__(self, reader: Scorer, ranker: SentenceRanker | None = None,
                 read: int = READ) -> None:
        self.reader = reader
        self.ranker = ranker or SentenceRanker()
        self.read = read

    def score(self, question: Question, ranked: list[RankedPassage],
              ) -> list[tuple[float, RankedPassage, int]]:
        """(score, passage, sentence index) of every candidate sentence, best first."""
        scored = self.ranker.score(question, ranked)
        head, tail = scored[: self.read], scored[self.read :]
        if not head:
            return scored
        logits = self.reader.score([pair(question, r, i) for _, r, i in head])
        w = self.reader.linear_weight
        read = [(float(x) + w * s, r, i) for x, (s, r, i) in zip(logits, head, strict=True)]
        floor = min(float(x) for x in logits)  # the unread stay below, in their linear order
        rest = [(floor + w * s, r, i) for s, r, i in tail]
        top = sorted(read, key=lambda t: -t[0])
        bottom = min(t[0] for t in top)
        return top + [(min(s, bottom), r, i) for s, r, i in rest]


def pair(question: Question, r: RankedPassage, i: int) -> tuple[str, str]:
    """What the reader reads of sentence ``i`` of a passage (``index.encode.reader``)."""
    p = r.passage
    before = sentence_text(p, i - 1) if i else ""
    after = sentence_text(p, i + 1) if i + 1 < len(p.sentences) else ""
    return reader_pair(question.text, p.article.title, before, sentence_text(p, i), after)
