"""Hybrid retrieval: dense (vectors) and lexical (BM25) candidates, fused, then re-scored for
questions about what someone said."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from index.models import Passage
from index.speakers import name_keys
from index.storage import Storage
from retrieval.models import RankedPassage

_SPEECH = re.compile(
    r"\b(?:say|said|says|saying|tell|told|according\s+to|claim(?:ed|s)?|comment(?:ed|s)?|"
    r"remarks?|statement|respond(?:ed)?|react(?:ed)?|announce[ds]?|warn(?:ed|s)?|think|thinks|"
    r"believe[sd]?|quote[sd]?|argue[sd]?|insist(?:ed|s)?|describe[sd]?|call(?:ed)?)\b", re.I)
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)*")
_NOT_SPEAKERS = {"what", "who", "whom", "why", "how", "when", "where", "which", "did", "does",
                 "do", "is", "was", "were", "the", "a", "an", "in", "on", "about", "tell", "i",
                 "according", "can", "could", "would", "should", "has", "have", "please"}


@dataclass(frozen=True)
class Question:
    """A question and what retrieval reads from it."""

    text: str
    speaker: str | None  # the person whose words are asked for, if any
    speaker_keys: frozenset[str]


def analyse(question: str) -> Question:
    """Find whose words a question asks for ("what did Pompeo say ...", "according to ...")."""
    if not _SPEECH.search(question):
        return Question(question, None, frozenset())
    for match in _CAPITALISED.finditer(question):
        words = [w for w in match.group(0).split() if w.lower() not in _NOT_SPEAKERS]
        keys = name_keys(" ".join(words)) - _NOT_SPEAKERS
        if keys:
            return Question(question, " ".join(words), frozenset(keys))
    return Question(question, None, frozenset())


def speaks(passage: Passage, keys: frozenset[str]) -> bool:
    """Whether any sentence of the passage is attributed to one of these name keys."""
    return any(s.speaker and name_keys(s.speaker) & keys for s in passage.sentences)


class HybridSearcher:
    """Dense + BM25 candidates fused by reciprocal rank, then speaker-aware re-scoring."""

    def __init__(self, storage: Storage, *, candidates: int = 50, rrf_k: int = 60,
                 lexical_weight: float = 1.0, speaker_boost: float = 0.5) -> None:
        self.storage = storage
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.lexical_weight = lexical_weight
        self.speaker_boost = speaker_boost

    def search(self, collection: str, question: Question, query: np.ndarray, k: int,
               article_id: str | None = None) -> list[RankedPassage]:
        """The k most relevant passages of a collection, best first."""
        dense = self.storage.dense_search(collection, query, self.candidates, article_id)
        lexical = self.storage.lexical_search(collection, question.text, self.candidates,
                                              article_id)
        fused: dict[int, float] = {}
        for rank, (pid, _) in enumerate(dense):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        for rank, (pid, _) in enumerate(lexical):
            fused[pid] = fused.get(pid, 0.0) + self.lexical_weight / (self.rrf_k + rank + 1)
        top = sorted(fused, key=lambda p: -fused[p])[: max(k, 20)]
        passages = self.storage.passages(collection, top)
        dense_of = dict(dense)
        lex_of = dict(lexical)
        best = 1.0 / (self.rrf_k + 1) * (1 + self.lexical_weight)
        ranked = []
        for pid in top:
            if pid not in passages:
                continue
            score = fused[pid] / best
            if question.speaker_keys and speaks(passages[pid], question.speaker_keys):
                score += self.speaker_boost
            ranked.append(RankedPassage(passages[pid], score, dense_of.get(pid, 0.0),
                                        lex_of.get(pid, 0.0)))
        ranked.sort(key=lambda r: -r.score)
        return ranked[:k]
