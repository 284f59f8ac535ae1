"""The storage protocol by role: what each part of the core asks of a backend.

``Storage`` (``index.store.protocol``) is their union; a component that needs one role asks
for that one (the searcher an ``ArticleSearch``, conversations a ``ConversationStore``). A new
role, or a method on one, is added here and in each backend; the shared storage tests run it
on both.

Common to every method: a failure of the backend's database or disk leaves as
``StorageError`` (a sentence saying what to do; a method that writes adds "Nothing was
changed", and nothing was); ``DamagedStoreError`` when the store lost data it held.
"Atomic" means one transaction: every row the method writes is committed together or none.
Times are Unix seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

import numpy as np

from index.models import Article, Chunk, Passage, PreparedArticle
from index.store.values import (
    Conversation,
    Feed,
    Hit,
    InsightSwitch,
    KeptQuestion,
    Kind,
    SeenEntry,
    ShardFilter,
    Stats,
    Turn,
    Vote,
    Watched,
)

Embed = Callable[[list[str]], np.ndarray]
Chunker = Callable[[Article, list[Passage]], list[Chunk]]


class ArticleStore(Protocol):
    """Articles with their paragraphs, sentences, speakers and vectors, per collection."""

    model: str  # the embedding model the vectors are of, and their dimension
    dim: int

    def find_existing(self, collection: str, article_id: str, canonical_url: str | None,
                      content_hash: str) -> Article | None:
        """The article with this id, else one with this canonical URL, else one with this
        content hash, in the collection; None if there is none. Reads only."""
        ...

    def put_article(self, collection: str, article_id: str, prepared: PreparedArticle,
                    vectors: np.ndarray, *, added_by: str | None = None) -> Article:
        """Store the article (replacing one with the same id), its paragraphs, sentences,
        lexical rows and ``vectors`` (one per chunk, in order); the stored article. Atomic.
        IndexMismatchError if the collection was embedded with another model."""
        ...

    def remove_article(self, collection: str, article_id: str) -> Article:
        """Remove the article and everything of it (rows, vectors); the article removed.
        Atomic. NotFoundError if the collection holds no such article."""
        ...

    def get_article(self, collection: str, article_id: str) -> Article:
        """The article; NotFoundError if the collection holds no such article."""
        ...

    def list_articles(self, collection: str, *, limit: int = 1000, offset: int = 0,
                      search: str | None = None) -> list[Article]:
        """The collection's articles, newest first, ``limit`` from ``offset`` (-1: all);
        with ``search``, only those whose title or id holds it."""
        ...

    def stats(self, collection: str) -> Stats:
        """The collection's counts and what its vector index is (zeros when it is empty).
        IndexMismatchError if it was embedded with another model."""
        ...

    def collections(self) -> list[str]:
        """The names of the collections holding at least one article, sorted."""
        ...

    def rebuild(self, collection: str, embed: Embed, chunker: Chunker,
                progress: Callable[[int, int], None] | None = None) -> int:
        """Re-embed every article with ``embed`` over ``chunker``'s chunks and swap the new
        vectors in at once; the number of vectors. Searches use the old ones until the swap;
        articles added meanwhile are included; a failure changes nothing. ``progress(done,
        total)`` after each article. StorageError if another rebuild of it is running."""
        ...


class ArticleSearch(Protocol):
    """Reading passages and finding them, by vectors and by words ("best first": equal
    scores in the order the paragraphs were stored, by id, so both backends rank alike)."""

    def passages(self, collection: str, ids: Sequence[int]) -> dict[int, Passage]:
        """The paragraphs with these ids, by id; ids not in the collection are left out."""
        ...

    def dense_search(self, collection: str, query: np.ndarray, k: int,
                     article_id: str | None = None) -> list[Hit]:
        """The ``k`` paragraphs closest to ``query`` (a normalised vector) by cosine, best
        first, each scored by its best chunk; only committed, live vectors; never waits for
        a writer. With ``article_id``, only that article's. IndexMismatchError if the
        collection was embedded with another model."""
        ...

    def lexical_search(self, collection: str, question: str, k: int,
                       article_id: str | None = None, also: Sequence[int] = ()) -> list[Hit]:
        """Paragraphs by BM25, best first: the ``k`` best by the question's rarer words (with
        ``article_id``, every paragraph of that article), plus the ``also`` ones, each scored
        with all of the question's words as ``index.store.bm25`` says (alike on every
        backend); those holding none of the words are left out."""
        ...

    def dense_scores(self, collection: str, paragraph_ids: Sequence[int],
                     query: np.ndarray) -> dict[int, float]:
        """The exact cosine of each of these paragraphs (its best chunk) to ``query``, by id;
        paragraphs without vectors are left out."""
        ...


class VoteStore(Protocol):
    """Members' votes on answers."""

    def record_vote(self, vote: Vote) -> None:
        """Keep a vote; a member's later vote on the same answer replaces the earlier one.
        Atomic."""
        ...


class MetaStore(Protocol):
    """Small named values the store keeps for the core (which commands were synced...)."""

    def meta_get(self, key: str) -> str | None:
        """The value kept under ``key``; None if there is none."""
        ...

    def meta_set(self, key: str, value: str) -> None:
        """Keep ``value`` under ``key``, replacing what was there. Atomic."""
        ...


class ConversationStore(Protocol):
    """Conversations: their turns, found by ``(collection, key)`` only, until they expire."""

    def conversation(self, collection: str, key: str) -> Conversation | None:
        """The conversation ``key`` names in the collection (its id, or a key linked to it),
        with its turns oldest first (a turn that cannot be read is left out, logged); None
        if there is none. One consistent read."""
        ...

    def append_turn(self, collection: str, conversation_id: str, turn: Turn, *,
                    max_turns: int) -> None:
        """Add a turn, creating the conversation (and its id as a key) if needed, and keep
        only the last ``max_turns`` turns. Atomic; turns appended at once from several
        processes are numbered one after the other."""
        ...

    def link_conversation(self, collection: str, conversation_id: str, key: str) -> None:
        """Let ``key`` name the conversation too (a message that showed one of its answers);
        a key already naming another conversation now names this one; nothing if the
        conversation is gone."""
        ...

    def expire_conversations(self, before: float) -> int:
        """Delete every conversation last changed before ``before``, with its turns and
        every key linked to it; how many. Atomic."""
        ...


class FeedStore(Protocol):
    """News that comes in by itself (docs/FEEDS.md): feed subscriptions and their polling
    state, the entries each feed has seen, watched channels and the intake log."""

    def add_feed(self, collection: str, url: str, *, title: str | None,
                 channel_id: int | None, added_by: str | None, now: float) -> Feed:
        """Subscribe the collection to the feed at ``url``; subscribing again resumes it,
        due ``now``, its state kept. The feed as stored. Atomic."""
        ...

    def get_feed(self, feed_id: int) -> Feed:
        """The feed; NotFoundError if there is no such feed."""
        ...

    def list_feeds(self, collection: str | None = None) -> list[Feed]:
        """The collection's feeds (every collection's when None), by id."""
        ...

    def due_feeds(self, now: float, limit: int,
                  shards: ShardFilter | None = None) -> list[Feed]:
        """Up to ``limit`` feeds not paused whose next poll is at or before ``now``, most
        overdue first; with ``shards``, only those this process polls (chosen before the
        limit)."""
        ...

    def intake_turn(self, collection: str) -> AbstractContextManager[None]:
        """Held while the collection takes in an article within its daily quota: one holder
        at a time across every process on the store (released if its process dies)."""
        ...

    def save_feed(self, feed: Feed) -> None:
        """Write the feed's polling state (everything but its identity: id, collection,
        URL, who added it and when). Atomic."""
        ...

    def remove_feed(self, collection: str, feed_id: int) -> Feed:
        """Unsubscribe: remove the feed and the entries it has seen; the feed removed.
        Atomic. NotFoundError if the collection has no such feed."""
        ...

    def seen_entries(self, feed_id: int, keys: Sequence[str]) -> dict[str, SeenEntry]:
        """What the feed has seen under any of ``keys``, by key (unknown keys left out)."""
        ...

    def mark_seen(self, feed_id: int, entries: Sequence[SeenEntry], now: float) -> None:
        """Remember each entry under its key, replacing what the key held. Atomic."""
        ...

    def watch_channel(self, collection: str, channel_id: int, added_by: str | None,
                      now: float) -> None:
        """Index the links posted in the channel into the collection (again: nothing)."""
        ...

    def unwatch_channel(self, collection: str, channel_id: int) -> bool:
        """Stop watching the channel; whether it was watched."""
        ...

    def watched_channels(self) -> list[Watched]:
        """Every watched channel, by collection and channel."""
        ...

    def record_intake(self, collection: str, article_id: str, origin: str,
                      now: float) -> None:
        """Log that the article came in by itself from ``origin`` (a feed, a channel) at
        ``now``; an article logged already keeps its first record."""
        ...

    def intake_since(self, collection: str, since: float) -> int:
        """How many articles came into the collection by themselves at or after ``since``."""
        ...

    def intake_before(self, before: float, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` (collection, article id) pairs of articles that came in by
        themselves before ``before``, oldest first."""
        ...

    def forget_intake(self, collection: str, article_id: str) -> None:
        """Drop the article's intake record (nothing if there is none)."""
        ...


class RateLedger(Protocol):
    """Rate limits counted where every process sees them (PostgreSQL); a backend whose
    processes share no such place has none, and the limits are counted in memory."""

    def take(self, kind: str, key: int, n: int, count: int, window_s: float) -> float | None:
        """Record ``n`` uses of ``key`` (of ``kind``) if at most ``count`` then fall in the
        last ``window_s`` seconds: None; else record none and return the seconds until there
        is room. Atomic across processes."""
        ...


class InsightStore(Protocol):
    """What members asked that nothing answered, kept per collection only while an admin has
    insights on: the question as asked, its kind and the time, never who asked or voted."""

    def insight_switch(self, collection: str) -> InsightSwitch | None:
        """Whether insights are on for the collection (its retention, since when); None: off.
        Read from the primary store, never cached, so every process sees a change at once."""
        ...

    def switch_insights(self, collection: str, retention_days: int | None,
                        now: float) -> int:
        """Turn insights on with a retention in days (kept questions older than it are
        deleted), or off (None: everything kept is deleted); how many kept questions were
        deleted. Atomic."""
        ...

    def keep_question(self, collection: str, question: str, kind: Kind, now: float, *,
                      answer_id: str | None = None) -> bool:
        """Keep the question when insights are on (else nothing); a down-voted answer
        (``answer_id``) is kept once however many members vote it down; questions past the
        retention are deleted in the same transaction. Whether it was kept."""
        ...

    def kept_questions(self, collection: str, since: float, now: float,
                       limit: int) -> list[KeptQuestion]:
        """The collection's kept questions since ``since`` (and within the retention),
        newest first, at most ``limit``; none when insights are off."""
        ...

    def forget_vote_down(self, collection: str, answer_id: str) -> bool:
        """Delete a down-voted answer's question once no member votes it down any more (the
        last 👎 was changed to 👍); whether one was deleted."""
        ...
