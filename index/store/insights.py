"""What members asked that nothing answered: the storage role and its rows.

A collection keeps questions only while an admin has turned insights on for it, each for at
most its retention in days. A kept question holds the collection, the question as asked,
its kind (``not_found``: the answer said the articles do not answer it; ``voted_down``: a
member voted the answer 👎) and the time; never who asked or who voted. A down-voted answer
is kept once under its answer id, however many members vote it down. Turning insights off
deletes what was kept. Every statement names its collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Kind = Literal["not_found", "voted_down"]
KINDS: tuple[Kind, ...] = ("not_found", "voted_down")
DAY_S = 86_400.0


@dataclass(frozen=True)
class InsightSwitch:
    """Insights turned on for a collection: for how many days questions are kept, and since
    when (seconds)."""

    collection: str
    retention_days: int
    since: float

    def oldest(self, now: float) -> float:
        """The time before which kept questions are deleted."""
        return now - self.retention_days * DAY_S


@dataclass(frozen=True)
class KeptQuestion:
    """A question kept for insights: the question as asked, why, and when (seconds)."""

    question: str
    kind: Kind
    at: float


class InsightStorage(Protocol):
    """The insights part of ``Storage`` (one statement or a short transaction each)."""

    def insight_switch(self, collection: str) -> InsightSwitch | None: ...
    def switch_insights(self, collection: str, retention_days: int | None,
                        now: float) -> int: ...
    def keep_question(self, collection: str, question: str, kind: Kind, now: float, *,
                      answer_id: str | None = None) -> bool: ...
    def kept_questions(self, collection: str, since: float, now: float,
                       limit: int) -> list[KeptQuestion]: ...
    def forget_vote_down(self, collection: str, answer_id: str) -> bool: ...
