"""What members asked that nothing answered, per collection, while an admin has it on.

``Insights`` keeps the questions answered "not found" and those of answers voted 👎 (never
who asked or voted; ``index.store.roles.InsightStore``), and reports the top gaps of the last days:
the kept questions embedded with the core's model and grouped when alike.

Alike means a cosine of at least ``ALIKE`` to a group's first question. It was chosen on
pairs of news questions with the bundled model (docs/OPERATING.md, "Insights"): at 0.78, 10
of 12 paraphrases group ("Why was the bridge delayed?" / "what caused the delay of the
bridge": 0.92) and 11 of 12 different questions stay apart ("Is the school closed
tomorrow?" / "Is the library closed tomorrow?": 0.77); the one joined is an opposite on the
same subject ("Who won / lost the mayoral election?": 0.92), the same gap for an editor.
Another model's cosines differ: the same questions written alike still group.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.encode.embed import Embedder
from index.errors import CitebotError, StorageError
from index.store.protocol import Storage, Vote
from index.store.values import DAY_S, InsightSwitch, KeptQuestion, Kind

log = logging.getLogger(__name__)
ALIKE = 0.78
MAX_QUESTIONS = 500  # the newest questions grouped: bounds the work of one report
DEFAULT_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 365
DEFAULT_DAYS = 7
TOP = 10
# a person or role mentioned as chat platforms write it (<@123>, <@!123>, <@&123>): kept as
# "@someone", so that no member's id reaches the kept questions
_MENTION = re.compile(r"<@[!&]?\d+>")


class InsightsOptionError(CitebotError):
    """A retention or a number of days outside what insights accept."""


@dataclass(frozen=True)
class Gap:
    """Alike questions: the one asked most (as written most), how often, why, when last."""

    question: str
    count: int
    kinds: dict[Kind, int]
    last_at: float
    variants: int  # distinct wordings


@dataclass(frozen=True)
class InsightReport:
    """The top gaps of a collection's last ``days`` (``switch`` None: insights are off)."""

    collection: str
    switch: InsightSwitch | None
    days: int
    questions: int  # kept questions in those days (at most MAX_QUESTIONS were read)
    gaps: tuple[Gap, ...]

    @property
    def questions_shown(self) -> str:
        """How many questions were grouped, said plainly ("the newest 500 questions" when
        there were more than the report reads)."""
        if self.questions >= MAX_QUESTIONS:
            return f"the newest {MAX_QUESTIONS} questions"
        return f"{self.questions} question{'s' if self.questions != 1 else ''}"

    def to_json(self) -> dict[str, object]:
        return {"collection": self.collection, "on": self.switch is not None,
                "retention_days": self.switch.retention_days if self.switch else None,
                "days": self.days, "questions": self.questions,
                "gaps": [{"question": g.question, "count": g.count, "kinds": g.kinds,
                          "last_asked": g.last_at, "variants": g.variants}
                         for g in self.gaps]}


def check_days(days: int, most: int, what: str) -> int:
    """``days`` if within 1..``most``, else InsightsOptionError saying what is accepted."""
    if not 1 <= days <= most:
        raise InsightsOptionError(f"The {what} must be between 1 and {most} days; "
                                  f"{days} is not.")
    return days


class Insights:
    """Keeps the questions nothing answered and groups them; one per core."""

    def __init__(self, storage: Storage, embedder: Embedder, *,
                 clock: Callable[[], float] = time.time, alike: float = ALIKE) -> None:
        self.storage = storage
        self.embedder = embedder
        self.clock = clock
        self.alike = alike

    def note_not_found(self, collection: str, question: str) -> None:
        """Keep a question answered "not found" if the collection has insights on (one small
        read when off). A failure is logged, never raised: it must not cost the answer."""
        try:
            if question.strip() and self.storage.insight_switch(collection) is not None:
                self.storage.keep_question(collection, anonymous(question), "not_found",
                                           self.clock())
        except StorageError as exc:
            log.warning("insights: a question answered \"not found\" was not kept: %s", exc)

    def note_vote(self, vote: Vote) -> None:
        """Keep a 👎'd answer's question once, under the answer's id (not the member's);
        forget it when its last 👎 becomes a 👍. A failure is logged, never raised: the
        vote itself was recorded."""
        try:
            if self.storage.insight_switch(vote.collection) is None:
                return
            if vote.vote > 0:
                self.storage.forget_vote_down(vote.collection, vote.answer_id)
            elif vote.question.strip():
                self.storage.keep_question(vote.collection, anonymous(vote.question),
                                           "voted_down", self.clock(), answer_id=vote.answer_id)
        except StorageError as exc:
            log.warning("insights: a vote's question was not kept or forgotten: %s", exc)

    def enable(self, collection: str, retention_days: int = DEFAULT_RETENTION_DAYS
               ) -> InsightSwitch:
        """Turn insights on (or change their retention); questions older are deleted."""
        days, now = check_days(retention_days, MAX_RETENTION_DAYS, "retention"), self.clock()
        self.storage.switch_insights(collection, days, now)
        # None only if another process turned them off meanwhile: this call still turned on
        return self.storage.insight_switch(collection) or InsightSwitch(collection, days, now)

    def disable(self, collection: str) -> int:
        """Turn insights off and delete every question kept; how many were."""
        return self.storage.switch_insights(collection, None, self.clock())

    def report(self, collection: str, days: int = DEFAULT_DAYS, top: int = TOP
               ) -> InsightReport:
        """The ``top`` gaps of the last ``days`` (at most the retention), most asked first."""
        days = check_days(days, MAX_RETENTION_DAYS, "period shown")
        switch = self.storage.insight_switch(collection)
        if switch is None:
            return InsightReport(collection, None, days, 0, ())
        days = min(days, switch.retention_days)
        now = self.clock()
        kept = self.storage.kept_questions(collection, now - days * DAY_S, now, MAX_QUESTIONS)
        gaps = group(kept, self.embedder.embed, self.alike)
        return InsightReport(collection, switch, days, len(kept), tuple(gaps[:top]))


def anonymous(question: str) -> str:
    """The question with every mention of a person or role made "@someone"."""
    return _MENTION.sub("@someone", question)


def _wording(question: str) -> str:
    return " ".join(question.casefold().split()).rstrip("?!. ")


def group(kept: Sequence[KeptQuestion], embed: Callable[[list[str]], np.ndarray],
          alike: float = ALIKE) -> list[Gap]:
    """Kept questions grouped when alike, most asked first. Each distinct wording is embedded
    once; wordings are taken most asked first and join the group whose first wording is
    closest, if at least ``alike``, so a group never drifts from its first question."""
    by_wording: dict[str, list[KeptQuestion]] = {}
    for k in sorted(kept, key=lambda k: -k.at):  # newest first: a wording shows as last asked
        by_wording.setdefault(_wording(k.question), []).append(k)
    wordings = sorted(by_wording, key=lambda w: (-len(by_wording[w]), -by_wording[w][0].at))
    if not wordings:
        return []
    shown = {w: Counter(k.question for k in by_wording[w]).most_common(1)[0][0]
             for w in wordings}  # as written most (the newest of those written as often)
    vectors = embed([shown[w] for w in wordings])
    leaders: list[int] = []
    members: dict[int, list[int]] = {}
    for i in range(len(wordings)):
        cosines = vectors[leaders] @ vectors[i] if leaders else np.zeros(0)
        best = int(np.argmax(cosines)) if len(cosines) else -1
        if best >= 0 and float(cosines[best]) >= alike:
            members[leaders[best]].append(i)
        else:
            leaders.append(i)
            members[i] = [i]
    gaps = [_gap([k for i in members[j] for k in by_wording[wordings[i]]],
                 shown[wordings[j]], len(members[j])) for j in leaders]
    return sorted(gaps, key=lambda g: (-g.count, -g.last_at))


def _gap(kept: list[KeptQuestion], question: str, variants: int) -> Gap:
    kinds = Counter(k.kind for k in kept)
    return Gap(question, len(kept), {kind: kinds[kind] for kind in sorted(kinds)},
               max(k.at for k in kept), variants)
