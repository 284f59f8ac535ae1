"""The small typed values the storage protocol (``index.store.protocol``) takes and returns:
plain, frozen, the same on every backend."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, NamedTuple

import numpy as np


class Hit(NamedTuple):
    """A paragraph found by a search, and its score (cosine, or BM25)."""

    paragraph: int
    score: float


def best_per_paragraph(pids: list[int], scores: list[float], k: int) -> list[Hit]:
    """The ``k`` best paragraphs, each scored by its best chunk (chunks of one paragraph share
    its id); ties in the order the paragraphs were stored (by id), alike on every backend."""
    best: dict[int, float] = {}
    for pid, score in zip(pids, scores, strict=True):
        if score > best.get(pid, -np.inf):
            best[pid] = score
    return [Hit(p, s) for p, s in sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


@dataclass(frozen=True)
class Stats:
    """A collection's figures: counts, and what its vector index is."""

    articles: int
    paragraphs: int
    chunks: int
    generation: int
    model: str
    dim: int
    # "flat", or when approximate "ivf-sq8" (embedded) or "ivfflat" (PostgreSQL); None before
    # vectors
    index: str | None
    vectors: int | None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Vote:
    """A member's 👍 (1) or 👎 (-1) on one answer; a second vote on it replaces the first."""

    collection: str
    answer_id: str  # the answer's message, so that one member counts once per answer
    user_id: str
    question: str
    quotes: tuple[dict[str, object], ...]
    vote: int


@dataclass(frozen=True)
class ShardFilter:
    """The feeds one bot process polls: those of servers on its shards (a server's collection
    is ``guild-<server id>``, and the server is on shard ``(id >> 22) % count``) and, when
    ``others``, those of every other collection (the process serving shard 0)."""

    count: int
    ids: tuple[int, ...]
    others: bool


@dataclass(frozen=True)
class Feed:
    """A collection's subscription to a feed, and the state of its polling."""

    id: int
    collection: str
    url: str
    title: str | None
    channel_id: int | None  # where new articles are announced (Discord), if anywhere
    added_by: str | None
    added_at: float  # Unix seconds, like every time here
    etag: str | None = None  # validators of the last poll that left nothing pending
    last_modified: str | None = None
    body_hash: str | None = None
    next_poll_at: float = 0.0
    failures: int = 0  # failed polls in a row
    paused: str | None = None  # why polling stopped; None while it runs
    last_error: str | None = None
    last_polled_at: float | None = None
    last_new_at: float | None = None  # when it last brought a new article
    articles: int = 0  # new articles it brought


@dataclass(frozen=True)
class SeenEntry:
    """What a feed's entry, known by `key` ("guid:...", "url:...", "hash:..."), became."""

    key: str
    article_id: str | None  # None while it could not be added
    fingerprint: str  # of what the entry said (title, summary, content)
    attempts: int = 0  # failed attempts to add it
    error: str | None = None


@dataclass(frozen=True)
class Watched:
    """A channel whose members' links are indexed into a collection."""

    collection: str
    channel_id: int
    added_by: str | None
    added_at: float


class Span(NamedTuple):
    """A quote shown: its article, paragraph number and character span in the paragraph."""

    article_id: str
    paragraph: int
    start: int
    end: int


@dataclass(frozen=True)
class Turn:
    """One question of a conversation, as it was read and what its answer showed."""

    question: str  # as asked
    read_as: str  # as answered: the follow-up made a standalone question
    person: str | None  # whom the turn was about (the speaker asked for, or quoted)
    names: tuple[str, ...]  # other names the question brought up
    shown: tuple[Span, ...]  # the quotes shown, in order
    quote: str  # the quotes' texts, clipped, one a line: what "that" means next
    at: float  # seconds since the epoch


@dataclass(frozen=True)
class Conversation:
    """A conversation's turns, oldest first, and when it last changed (seconds)."""

    id: str
    collection: str
    turns: tuple[Turn, ...]
    updated_at: float


# -- insights: what members asked that nothing answered (docs/OPERATING.md) --------------
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
