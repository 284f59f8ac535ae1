"""What the core needs from a storage backend, and the small typed values it returns.

A backend keeps, per collection: articles with their paragraphs, sentences and speakers; one
vector per embedded window (a paragraph, or a sentence-aligned piece of a long one); a
lexical index of the paragraphs; feedback; conversations (the turns of follow-up questions,
under their id and any other keys an interface gives them, until they expire); and, for news
that comes in by itself, feed subscriptions with their polling state, the entries each feed
has seen, watched channels and the intake log. The invariants every backend keeps are listed
in docs/ARCHITECTURE.md (one collection never sees another's rows; a change is all or
nothing; searches never wait for writers and never see vectors that were not committed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import NamedTuple, Protocol

import numpy as np

from index.models import Article, Chunk, Passage, PreparedArticle
from index.store.insights import InsightStorage


class Hit(NamedTuple):
    """A paragraph found by a search, and its score (cosine, or BM25)."""

    paragraph: int
    score: float


def best_per_paragraph(pids: list[int], scores: list[float], k: int) -> list[Hit]:
    """The ``k`` best paragraphs, each scored by its best chunk (chunks of one paragraph share
    its id)."""
    best: dict[int, float] = {}
    for pid, score in zip(pids, scores, strict=True):
        if score > best.get(pid, -np.inf):
            best[pid] = score
    return [Hit(p, s) for p, s in sorted(best.items(), key=lambda kv: -kv[1])[:k]]


@dataclass(frozen=True)
class Stats:
    """A collection's figures: counts, and what its vector index is."""

    articles: int
    paragraphs: int
    chunks: int
    generation: int
    model: str
    dim: int
    index: str | None  # "flat" or "ivf-sq8" (embedded), "hnsw" (PostgreSQL); None before vectors
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


class RateLedger(Protocol):
    """Rate limits counted where every process sees them (PostgreSQL); a backend whose
    processes share no such place has none, and the limits are counted in memory."""

    def take(self, kind: str, key: int, n: int, count: int,
             window_s: float) -> float | None: ...


class Storage(InsightStorage, Protocol):
    """What the core needs from a storage backend (insights: ``InsightStorage``)."""

    model: str
    dim: int
    rates: RateLedger | None

    def find_existing(self, collection: str, article_id: str, canonical_url: str | None,
                      content_hash: str) -> Article | None: ...
    def put_article(self, collection: str, article_id: str, prepared: PreparedArticle,
                    vectors: np.ndarray, *, added_by: str | None = None) -> Article: ...
    def remove_article(self, collection: str, article_id: str) -> Article: ...
    def get_article(self, collection: str, article_id: str) -> Article: ...
    def list_articles(self, collection: str, *, limit: int = 1000, offset: int = 0,
                      search: str | None = None) -> list[Article]: ...
    def stats(self, collection: str) -> Stats: ...
    def collections(self) -> list[str]: ...
    def passages(self, collection: str, ids: Sequence[int]) -> dict[int, Passage]: ...
    def dense_search(self, collection: str, query: np.ndarray, k: int,
                     article_id: str | None = None) -> list[Hit]: ...
    def lexical_search(self, collection: str, question: str, k: int,
                       article_id: str | None = None, also: Sequence[int] = ()) -> list[Hit]: ...
    def dense_scores(self, collection: str, paragraph_ids: Sequence[int],
                     query: np.ndarray) -> dict[int, float]: ...
    def rebuild(self, collection: str, embed: Callable[[list[str]], np.ndarray],
                chunker: Callable[[Article, list[Passage]], list[Chunk]],
                progress: Callable[[int, int], None] | None = None) -> int: ...
    def record_vote(self, vote: Vote) -> None: ...
    def conversation(self, collection: str, key: str) -> Conversation | None: ...
    def append_turn(self, collection: str, conversation_id: str, turn: Turn, *,
                    max_turns: int) -> None: ...
    def link_conversation(self, collection: str, conversation_id: str, key: str) -> None: ...
    def expire_conversations(self, before: float) -> int: ...
    def meta_get(self, key: str) -> str | None: ...
    # -- feeds, watched channels and the intake log (see docs/FEEDS.md) --
    def add_feed(self, collection: str, url: str, *, title: str | None,
                 channel_id: int | None, added_by: str | None, now: float) -> Feed: ...
    def get_feed(self, feed_id: int) -> Feed: ...
    def list_feeds(self, collection: str | None = None) -> list[Feed]: ...
    def due_feeds(self, now: float, limit: int,
                  shards: ShardFilter | None = None) -> list[Feed]: ...
    def intake_turn(self, collection: str) -> AbstractContextManager[None]: ...
    def save_feed(self, feed: Feed) -> None: ...
    def remove_feed(self, collection: str, feed_id: int) -> Feed: ...
    def seen_entries(self, feed_id: int, keys: Sequence[str]) -> dict[str, SeenEntry]: ...
    def mark_seen(self, feed_id: int, entries: Sequence[SeenEntry], now: float) -> None: ...
    def watch_channel(self, collection: str, channel_id: int, added_by: str | None,
                      now: float) -> None: ...
    def unwatch_channel(self, collection: str, channel_id: int) -> bool: ...
    def watched_channels(self) -> list[Watched]: ...
    def record_intake(self, collection: str, article_id: str, origin: str,
                      now: float) -> None: ...
    def intake_since(self, collection: str, since: float) -> int: ...
    def intake_before(self, before: float, limit: int) -> list[tuple[str, str]]: ...
    def forget_intake(self, collection: str, article_id: str) -> None: ...
    def meta_set(self, key: str, value: str) -> None: ...
    def close(self) -> None: ...
