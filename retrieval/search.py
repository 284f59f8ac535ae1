"""Hybrid retrieval: dense (vectors) and lexical (BM25) candidates, fused, then re-scored for
questions about what someone said."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from index.models import Passage
from index.store import Storage
from index.text import SPEECH_QUESTION_WORDS, name_keys
from retrieval.models import Prior, RankedPassage

_SPEECH = re.compile(SPEECH_QUESTION_WORDS, re.I)
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)*")
_NOT_SPEAKERS = {"what", "who", "whom", "why", "how", "when", "where", "which", "did", "does",
                 "do", "is", "was", "were", "the", "a", "an", "in", "on", "about", "tell", "i",
                 "according", "can", "could", "would", "should", "has", "have", "please"}


_NUMERIC_Q = re.compile(
    r"\b(?:how\s+(?:many|much|long|old|far|big|large|often)|what\s+(?:year|percent(?:age)?|"
    r"number|amount|date|time|age)|when|since|what\s+day)\b", re.I)
_WHO_Q = re.compile(
    r"\b(?:who|whom|whose|name)\b|\b(?:which|what)\s+(?!(?:is|was|are|were|did|does|do|has|"
    r"have|had|will|would|can|could|should|happened|happens)\b)\w+", re.I)  # "which state"
_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                     r"hundred|thousand|million|billion|dozen|half|january|february|march|april|"
                     r"may|june|july|august|september|october|november|december|monday|tuesday|"
                     r"wednesday|thursday|friday|saturday|sunday)\b", re.I)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")


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


def answer_type_match(question: str, sentence: str) -> float:
    """1 when the sentence holds the kind of thing the question asks for: a number for "how
    many", "when", ...; a name not in the question for "who", "which state", ..."""
    if _NUMERIC_Q.search(question):
        return float(bool(_NUMBER.search(sentence)))
    if _WHO_Q.search(question):
        asked = {w.lower() for w in re.findall(r"\w+", question)}
        return float(any(m.group(0).lower() not in asked for m in _NAME.finditer(sentence)))
    return 0.0


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

    def __init__(self, storage: Storage, *, candidates: int = 30, dense_weight: float = 0.6,
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
        top_lex = max(lexical.values(), default=0.0) or 1.0
        w = self.dense_weight
        fused = {p: w * dense.get(p, 0.0) + (1 - w) * lexical.get(p, 0.0) / top_lex
                 for p in dense.keys() | lexical.keys()}
        top = sorted(fused, key=lambda p: -fused[p])[: max(k, 20 if as_of is None else 40)]
        top += [p for p in sorted(own, key=lambda p: -fused[p]) if p not in top]
        passages = self.storage.passages(collection, top)
        today = as_of or datetime.now(UTC).date()
        ranked = []
        for pid in top:
            if pid not in passages:
                continue
            score = fused[pid] + (prior.bonus(passages[pid]) if prior else 0.0)
            if len(passages[pid].text.split()) < self.short_words:  # a heading, a link line
                score -= self.short_penalty
            published = published_date(passages[pid].article.published)
            if published is not None:
                if as_of is not None and published > as_of:
                    continue
                age = max((today - published).days, 0)
                score += self.recency_bonus * math.exp(-age / self.recency_days)
            score += self.type_bonus * answer_type_match(question.text, passages[pid].text)
            if question.speaker_keys and speaks(passages[pid], question.speaker_keys):
                score += self.speaker_boost
            ranked.append(RankedPassage(passages[pid], score, dense.get(pid, 0.0),
                                        lexical.get(pid, 0.0)))
        ranked.sort(key=lambda r: -r.score)
        return ranked[:k]

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
