"""The embedded storage backend: SQLite + one FAISS file per collection, in a data directory.

``EmbeddedStorage`` (``storage``) implements the ``Storage`` protocol over ``sqlite_store``
(every statement about articles, search and votes), ``feed_tables`` and
``conversation_tables`` (their own statements), ``sqlite_tx`` (connections and
transactions), ``sqlite_migrations`` (the schema, step by step), ``failures`` (SQLite's errors
as advice), ``vectors`` (the only FAISS import), ``reconcile``, ``rebuild``, ``integrity`` and
``locks``. ``EmbeddedStorage`` is imported on first use, so that naming one module of this
package does not load all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from index.store.embedded.storage import EmbeddedStorage

__all__ = ["EmbeddedStorage"]


def __getattr__(name: str) -> Any:
    if name == "EmbeddedStorage":
        from index.store.embedded.storage import EmbeddedStorage

        return EmbeddedStorage
    raise AttributeError(name)
