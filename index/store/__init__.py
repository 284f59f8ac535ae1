"""Storage: the one owner of SQL and vector files.

The public face is the ``Storage`` protocol, the union of its roles (``ArticleStore``,
``ArticleSearch``, ``VoteStore``, ``MetaStore``, ``ConversationStore``, ``FeedStore``), with its
typed results (``Hit``, ``Stats``, ``Vote``, ``Conversation``, ``Turn``, ``Span``...) and the
embedded backend,
``EmbeddedStorage`` (SQLite + FAISS files), imported on first use so that naming the
protocol does not load FAISS. The PostgreSQL backend is the ``index.store.postgres``
sub-package (an optional extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from index.store.protocol import (
    ArticleSearch,
    ArticleStore,
    Conversation,
    ConversationStore,
    Feed,
    FeedStore,
    Hit,
    MetaStore,
    SeenEntry,
    ShardFilter,
    Span,
    Stats,
    Storage,
    Turn,
    Vote,
    VoteStore,
    Watched,
)

if TYPE_CHECKING:
    from index.store.embedded.storage import EmbeddedStorage

__all__ = [
    "ArticleSearch", "ArticleStore", "Conversation", "ConversationStore", "EmbeddedStorage",
    "Feed", "FeedStore", "Hit", "MetaStore", "SeenEntry", "ShardFilter", "Span", "Stats",
    "Storage", "Turn", "Vote", "VoteStore", "Watched",
]


def __getattr__(name: str) -> Any:
    if name == "EmbeddedStorage":
        from index.store.embedded.storage import EmbeddedStorage

        return EmbeddedStorage
    raise AttributeError(name)
