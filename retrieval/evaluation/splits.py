"""A fixed split of a question set into a part to tune on and a part only to report on.

Ranking rules tuned and reported on the same questions flatter themselves: on held-out news
about six points of hit@1 did not carry over. So every question set is cut in two, the same
way on every machine and in every run:

- questions are grouped by article, so that the questions about one article never straddle
  the split (an article seen while tuning would leak its wording into the report);
- an article's group is the ISO week of its earliest ``question_date`` when it has one (news
  quizzes ask about one week's events; articles of one week often tell the same story, so a
  week is kept whole, like held-out news of other weeks), otherwise the article's own id;
- a group is on the report side when the first 8 hex digits of the SHA-256 of its key, read as
  a number, are odd; on the tune side when even. Half and half, independent of the file's
  order, of how many questions it holds and of any other question.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from retrieval.features import published_date

Split = Literal["tune", "report"]
SPLITS: tuple[Split, ...] = ("tune", "report")


def group_key(doc_id: str, question_dates: Iterable[str | None]) -> str:
    """The key that decides an article's side: its first question's week, or its id."""
    days = sorted(d for d in (published_date(q) for q in question_dates) if d is not None)
    if days:
        year, week, _ = days[0].isocalendar()
        return f"week:{year}-W{week:02d}"
    return f"doc:{doc_id}"


def side_of(key: str) -> Split:
    """Which side a group key falls on (see the module docstring)."""
    return "report" if int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 2 else "tune"


def article_sides(rows: Iterable[Mapping[str, Any]]) -> dict[str, Split]:
    """Each article's side, from all the questions asked about it."""
    dates: dict[str, list[str | None]] = {}
    for r in rows:
        dates.setdefault(r["doc_id"], []).append(r.get("question_date"))
    return {doc: side_of(group_key(doc, days)) for doc, days in dates.items()}


def select(rows: list[dict[str, Any]], split: Split | Literal["all"]) -> list[dict[str, Any]]:
    """The questions of one side (``all``: every question), in the file's order."""
    if split == "all":
        return list(rows)
    sides = article_sides(rows)
    return [r for r in rows if sides[r["doc_id"]] == split]
