"""A collection that holds no articles (often a misspelled ``--collection``), said in one
sentence that names the collections that do hold articles."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from index.errors import CitebotError

if TYPE_CHECKING:
    from retrieval.core import Core

MAX_LISTED = 20


def no_articles(core: Core, collection: str) -> str | None:
    """None if ``collection`` holds an article; else the sentence saying that it holds none,
    with the collections that do."""
    if core.articles(collection, limit=1):
        return None
    others = [name for name in core.collections() if name != collection]
    if not others:
        option = "" if collection == "default" else f" --collection {shlex.quote(collection)}"
        return (f"Collection {collection!r} holds no articles yet; add some with "
                f"`citebot add{option}`.")
    if len(others) == 1:
        return (f"Collection {collection!r} holds no articles; the only collection with "
                f"articles is {others[0]} (choose it with --collection).")
    shown = ", ".join(others[:MAX_LISTED])
    if len(others) > MAX_LISTED:
        shown += f" and {len(others) - MAX_LISTED} more"
    return (f"Collection {collection!r} holds no articles; the collections with articles are "
            f"{shown} (choose one with --collection).")


def require_articles(core: Core, collection: str) -> None:
    """Raise CitebotError (the sentence above) unless ``collection`` holds an article."""
    problem = no_articles(core, collection)
    if problem is not None:
        raise CitebotError(problem)
