"""What the core needs from a storage backend: ``Storage``, the union of the roles in
``index.store.roles``, and the small typed values it returns (``index.store.values``).

A backend keeps, per collection: articles with their paragraphs, sentences and speakers; one
vector per embedded window (a paragraph, or a sentence-aligned piece of a long one); a
lexical index of the paragraphs; feedback; conversations (the turns of follow-up questions,
under their id and any other keys an interface gives them, until they expire); and, for news
that comes in by itself, feed subscriptions with their polling state, the entries each feed
has seen, watched channels and the intake log; and, while an admin has them on, the
questions nothing answered (insights, never who asked). The invariants every backend keeps
are listed in docs/ARCHITECTURE.md (one collection never sees another's rows; a change is
all or nothing; searches never wait for writers and never see vectors that were not
committed).
"""

from __future__ import annotations

from typing import Protocol

from index.store.roles import (
    ArticleSearch,
    ArticleStore,
    ConversationStore,
    FeedStore,
    InsightStore,
    MetaStore,
    RateLedger,
    VoteStore,
)
from index.store.values import (
    Conversation,
    Feed,
    Hit,
    SeenEntry,
    ShardFilter,
    Span,
    Stats,
    Turn,
    Vote,
    Watched,
    best_per_paragraph,
)

__all__ = [
    "ArticleSearch", "ArticleStore", "Conversation", "ConversationStore", "Feed", "FeedStore",
    "Hit", "InsightStore", "MetaStore", "RateLedger", "SeenEntry", "ShardFilter", "Span",
    "Stats", "Storage", "Turn", "Vote", "VoteStore", "Watched", "best_per_paragraph",
]


class Storage(ArticleStore, ArticleSearch, VoteStore, MetaStore, ConversationStore, FeedStore,
              InsightStore, Protocol):
    """Everything the core needs from a storage backend: every role, and its own end."""

    rates: RateLedger | None  # limits shared by every process on the store; None: in memory

    def close(self) -> None:
        """Release the store (connections, files, locks); it is not used again."""
        ...
