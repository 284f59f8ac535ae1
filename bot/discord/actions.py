"""What the bot's commands do, as plain functions over the core.

Each runs on a worker thread (never on the event loop), raises domain errors (`index.errors`,
plus `NotAllowedError` here) and knows nothing about Discord; the cogs only call them and
render the result. Every server is its own collection: `collection_for` is the one mapping.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from index.errors import (
    ArticleError,
    CitebotError,
    NotFoundError,
    TooLargeError,
)
from index.indexer import AddResult
from index.ingest.files import file_kind
from index.intake.entries import Taken
from index.models import Article
from index.names import check_collection
from retrieval.core import Core
from retrieval.models import Answer

PAGE_SIZE = 10


class NotAllowedError(CitebotError):
    """The member may not do this (for example, remove someone else's article)."""


def collection_for(guild_id: int) -> str:
    """The collection holding one Discord server's articles."""
    return check_collection(f"guild-{guild_id}")  # always fits: ids have 20 digits at most


def guild_of(collection: str) -> int | None:
    """The Discord server a collection belongs to (None for a collection of the command line)."""
    prefix, _, number = collection.partition("-")
    return int(number) if prefix == "guild" and number.isdigit() else None


def resolve_article(core: Core, collection: str, ref: str) -> Article:
    """An article by id (what autocomplete fills in) or by a title only one article matches."""
    ref = ref.strip()
    try:
        return core.article(collection, ref)
    except NotFoundError:
        pass
    matches = core.articles(collection, limit=2, search=ref) if ref else []
    if len(matches) == 1:
        return matches[0]
    raise NotFoundError(
        f"No single article in this server matches \u201c{ref}\u201d; pick one from the list.")


@dataclass(frozen=True)
class Question:
    """A question as a member asked it: in which server's collection, in which conversation
    (a key of it), and optionally of one article (its id, or a title one article matches)."""

    collection: str
    text: str
    conversation: str
    article: str | None = None


def ask(core: Core, question: Question,
        on_draft: Callable[[Answer], None] | None = None) -> Answer:
    """The cited answer, optionally from one article only, read as the next follow-up of its
    conversation and kept in it; written by the language model when one is configured
    (``on_draft`` sees each verified draft), else quotes only."""
    collection = question.collection
    article_id = (resolve_article(core, collection, question.article).id if question.article
                  else None)
    return core.ask(collection, question.text, article_id=article_id,
                    conversation=question.conversation, write=True, on_draft=on_draft)


def find_articles(core: Core, collection: str, typed: str, limit: int = 25) -> list[Article]:
    """Articles whose title or id contains what the member typed, newest first."""
    return core.articles(collection, limit=limit, search=typed.strip() or None)


def check_attachment(filename: str, size: int, max_bytes: int) -> None:
    """Refuse a file by its name and announced size, before downloading it."""
    file_kind(filename)
    if size > max_bytes:
        raise TooLargeError(
            f"{filename} is {size:,} bytes, over this bot's limit of {max_bytes:,} bytes.")


def add_document(core: Core, collection: str, filename: str, data: bytes,
                 added_by: str) -> AddResult:
    """Add a downloaded .txt/.md (first line is the title) or .html file."""
    check_attachment(filename, len(data), core.settings.max_article_bytes)
    return core.add_document(collection, PurePosixPath(filename).name, data,
                             added_by=added_by)


@dataclass(frozen=True)
class LinkResult:
    """One link of an "Add article" message command: its article, or why it failed."""

    url: str
    article: Article | None
    error: str | None = None
    status: str = "added"  # AddResult's ("added", "updated", "unchanged"), or "failed"


def add_links(core: Core, collection: str, urls: list[str], added_by: str) -> list[LinkResult]:
    """Add every link; one that fails is reported and the others still go in."""
    results = []
    for url in urls:
        try:
            added = core.add_url(collection, url, added_by=added_by)
            results.append(LinkResult(url, added.article, status=added.status))
        except ArticleError as exc:
            results.append(LinkResult(url, None, str(exc), status="failed"))
    return results


def remove_article(core: Core, collection: str, ref: str, *, user_id: str,
                   can_manage: bool) -> Article:
    """Remove an article: allowed to whoever added it and to members who manage the server."""
    article = resolve_article(core, collection, ref)
    if not can_manage and article.added_by != user_id:
        raise NotAllowedError(
            "Only the member who added this article, or someone with Manage Server, "
            "can remove it.")
    return core.remove(collection, article.id)


def add_watched_links(core: Core, collection: str, urls: list[str], author_id: str,
                      channel_id: int) -> list[Taken]:
    """Index the links a member posted in a watched channel (deduplicated, within the daily
    quota); the article they added stays theirs to remove."""
    return core.add_links(collection, urls, added_by=author_id, origin=f"watch:{channel_id}")


@dataclass(frozen=True)
class ArticlePage:
    """One page of a server's articles, newest first."""

    articles: list[Article]
    page: int  # 1-based
    pages: int
    total: int


def article_page(core: Core, collection: str, page: int, size: int = PAGE_SIZE) -> ArticlePage:
    """Page `page` (clamped to the pages there are) of the server's articles."""
    total = core.stats(collection).articles
    pages = max(1, math.ceil(total / size))
    page = min(max(1, page), pages)
    articles = core.articles(collection, limit=size, offset=(page - 1) * size)
    return ArticlePage(articles, page, pages, total)


def rebuild(core: Core, collection: str,
            progress: Callable[[int, int], None]) -> tuple[int, int]:
    """Re-embed every article of the server; (articles, vectors)."""
    articles = core.stats(collection).articles
    return articles, core.rebuild(collection, progress)
