"""Getting articles in: from a URL, a file, pasted text or JSON Lines, into storage."""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from index.encode.embed import Embedder
from index.errors import ArticleError, CitebotError, TooLargeError
from index.ingest.extract import Extractor
from index.ingest.fetch import FetchPolicy
from index.ingest.files import decode, file_kind, read_limited
from index.ingest.prepare import (
    TITLE_MAX,
    ArticleLimits,
    article_id_for,
    clip,
    prepare,
    rechunk,
)
from index.ingest.records import check_field, parse_record
from index.models import Article, Chunk, Passage, PreparedArticle
from index.store import Storage

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
_BULK_CHUNKS = 256  # chunks embedded together in a bulk add
_ID = re.compile(r"^[\w.:-]{1,128}$")


@dataclass(frozen=True)
class AddResult:
    """What adding one article did: "added", "updated" or "unchanged"."""

    article: Article
    status: str


@dataclass(frozen=True)
class Hints:
    """What a caller knows about an article before fetching it (a feed entry says as much),
    used where the page does not say; with `article_id`, that article is updated in place."""

    article_id: str | None = None
    published: str | None = None
    source: str | None = None
    author: str | None = None


NO_HINTS = Hints()


@dataclass(frozen=True)
class BadLine:
    """A line of bulk input that could not be read (too long, not UTF-8), and why."""

    reason: str


@dataclass(frozen=True)
class BulkItem:
    """One line of a bulk add: its result, or the error that stopped it."""

    line: int
    result: AddResult | None
    error: str | None = None


@dataclass(frozen=True)
class IndexerOptions:
    """What the indexer reads of the settings: an article's limits, the extractor's time and
    the URL fetcher's policy."""

    limits: ArticleLimits
    max_article_bytes: int
    extract_timeout_s: float
    fetch: FetchPolicy

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexerOptions:
        return cls(
            limits=ArticleLimits(max_paragraphs=settings.max_article_paragraphs,
                                 max_words=settings.max_article_words,
                                 max_tokens=settings.max_article_tokens),
            max_article_bytes=settings.max_article_bytes,
            extract_timeout_s=settings.extract_timeout_s,
            fetch=FetchPolicy(
                max_bytes=settings.max_article_bytes, timeout_s=settings.fetch_timeout_s,
                allow_networks=tuple(settings.fetch_allow_networks),
                allowed_ports=frozenset(settings.fetch_allow_ports),
                use_env_proxy=settings.fetch_use_env_proxy))


class Indexer:
    """Adds, removes and rebuilds articles of a collection."""

    def __init__(self, *, options: IndexerOptions, storage: Storage,
                 embedder: Embedder) -> None:
        self.options = options
        self.storage = storage
        self.embedder = embedder
        self.limits = options.limits
        self.extractor = Extractor()

    def close(self) -> None:
        """Stop the extraction workers."""
        self.extractor.close()

    def add_text(
        self, collection: str, *, title: str, text: str, url: str | None = None,
        source: str | None = None, published: str | None = None, author: str | None = None,
        article_id: str | None = None, added_by: str | None = None,
    ) -> AddResult:
        """Add (or update in place) an article given as text."""
        self._check_size(text)
        return self.add_prepared(collection, self._prepare(
            title=title, text=text, url=url, source=source, published=published,
            author=author), article_id=article_id, added_by=added_by)

    def _prepare(self, **fields: Any) -> PreparedArticle:
        return prepare(**fields, count_tokens=self.embedder.count_tokens,
                       max_tokens=self.embedder.max_tokens, limits=self.limits)

    def _check_size(self, text: str) -> None:
        if len(text.encode("utf-8", "surrogatepass")) > self.options.max_article_bytes:
            raise TooLargeError(
                f"The article is larger than the limit of {self.options.max_article_bytes:,} "
                "bytes; split it or raise CITEBOT_MAX_ARTICLE_BYTES.")

    def add_prepared(
        self, collection: str, prepared: PreparedArticle, *, article_id: str | None = None,
        added_by: str | None = None,
    ) -> AddResult:
        plan = self._plan(collection, prepared, article_id)
        if isinstance(plan, AddResult):
            return plan
        vectors = self.embedder.embed([c.text for c in prepared.chunks])
        return self._store(collection, plan, prepared, vectors, added_by)

    def _plan(self, collection: str, prepared: PreparedArticle,
              article_id: str | None) -> AddResult | tuple[str, Article | None]:
        """The id to store under and the article it replaces, or "unchanged"."""
        if article_id is not None and not _ID.match(article_id):
            raise ArticleError(f"Article ids are letters, digits and .:_- only: {article_id!r}")
        wanted = article_id or article_id_for(prepared.url, prepared.content_hash)
        existing = self.storage.find_existing(
            collection, wanted, prepared.canonical_url, prepared.content_hash)
        if existing and existing.content_hash == prepared.content_hash and (
            existing.title == prepared.title
        ):
            return AddResult(existing, "unchanged")
        return (existing.id if existing else wanted), existing

    def _store(self, collection: str, plan: tuple[str, Article | None],
               prepared: PreparedArticle, vectors: np.ndarray,
               added_by: str | None) -> AddResult:
        final_id, existing = plan
        article = self.storage.put_article(
            collection, final_id, prepared, vectors, added_by=added_by)
        status = "updated" if existing else "added"
        log.info("%s %s %r (%d paragraphs)", status, article.id, article.title,
                 article.paragraph_count)
        return AddResult(article, status)

    def add_file(self, collection: str, path: Path, *, title: str | None = None,
                 added_by: str | None = None) -> AddResult:
        """Add an HTML, text or Markdown file (a text file's first line is its title)."""
        file_kind(path)  # refuse an unsupported file before reading it
        data = read_limited(path, self.options.max_article_bytes)
        return self.add_document(collection, path.name, data, title=title, added_by=added_by)

    def add_document(self, collection: str, name: str, data: bytes, *,
                     title: str | None = None, added_by: str | None = None) -> AddResult:
        """Add the bytes of a named file (one of ``FILE_KINDS``), from disk or an upload."""
        kind = file_kind(name)
        if len(data) > self.options.max_article_bytes:
            raise TooLargeError(f"{name} is {len(data):,} bytes, over the limit of "
                                f"{self.options.max_article_bytes:,}.")
        text = decode(data)
        if kind == "html":
            return self.add_html(collection, text, url=None, title=title, added_by=added_by)
        return self.add_plain(collection, text, title=title, added_by=added_by,
                              name=PurePath(name).stem)

    def add_plain(self, collection: str, text: str, *, title: str | None = None,
                  added_by: str | None = None, name: str = "article",
                  url: str | None = None, hints: Hints = NO_HINTS) -> AddResult:
        """Add plain text or Markdown: the first line is the title unless one is given (a
        first line too long for a title stays in the text, and a clipped copy is the title)."""
        if title is None:
            first, _, rest = text.lstrip().partition("\n")
            title = first.strip().lstrip("#").strip()
            if len(title) <= TITLE_MAX:
                text = rest
            title = clip(title, TITLE_MAX) or name
        else:
            check_field("title", title)
        return self.add_text(collection, title=title, text=text, url=url, added_by=added_by,
                             source=hints.source, published=hints.published,
                             author=hints.author, article_id=hints.article_id)

    def add_html(self, collection: str, html: str, *, url: str | None, title: str | None = None,
                 added_by: str | None = None, hints: Hints = NO_HINTS) -> AddResult:
        page = self.extractor.extract(html, url, timeout_s=self.options.extract_timeout_s)
        return self.add_text(
            collection, title=title or page.title or "Untitled", text=page.text,
            url=page.url or url, source=page.source or hints.source,
            published=page.published or hints.published, author=page.author or hints.author,
            added_by=added_by, article_id=hints.article_id)

    def add_url(self, collection: str, url: str, *, title: str | None = None,
                added_by: str | None = None, hints: Hints = NO_HINTS) -> AddResult:
        """Fetch a web page (safely) and add the article it holds."""
        from index.ingest.fetch import fetch

        doc = fetch(url, self.options.fetch)
        if doc.content_type == "text/html":
            return self.add_html(collection, doc.text, url=doc.final_url, title=title,
                                 added_by=added_by, hints=hints)
        return self.add_plain(collection, doc.text, title=title, added_by=added_by,
                              url=doc.final_url, hints=hints)

    def add_jsonl(self, collection: str, lines: Iterable[str | BadLine], *,
                  added_by: str | None = None) -> Iterator[BulkItem]:
        """Add one article per JSON line; every line gets its own result or its own error
        (a bad line, even one that cannot be read, never stops the others).

        Articles given as text are prepared in a background thread while the previous group
        is embedded, and embedded in groups across articles (fewer, fuller model batches).
        """
        records = ((n, line) for n, line in enumerate(lines, 1)
                   if isinstance(line, BadLine) or line.strip())
        with self.storage_batch(collection), ThreadPoolExecutor(1) as pool:
            prepared = _prefetch(pool, self._prepare_record, records, depth=8)
            group: list[tuple[int, dict[str, Any], PreparedArticle]] = []
            for number, record, item in prepared:
                if isinstance(item, PreparedArticle):
                    group.append((number, record, item))
                    if sum(len(g[2].chunks) for g in group) < _BULK_CHUNKS:
                        continue
                    yield from self._add_group(collection, group, added_by)
                    group = []
                else:
                    yield from self._add_group(collection, group, added_by)
                    group = []
                    yield self._add_other(collection, number, record, item, added_by)
            yield from self._add_group(collection, group, added_by)

    def _prepare_record(self, numbered: tuple[int, str | BadLine]) -> tuple[
            int, dict[str, Any], PreparedArticle | str | None]:
        """(line, record, prepared article | error message | None for a URL to fetch)."""
        number, line = numbered
        if isinstance(line, BadLine):
            return number, {}, line.reason
        try:
            record = parse_record(line)
            if record.get("text") is None:
                return number, record, None
            self._check_size(record["text"])
            return number, record, self._prepare(
                title=record["title"], text=record["text"], url=record.get("url"),
                source=record.get("source"), published=record.get("published"),
                author=record.get("author"))
        except (CitebotError, ValueError) as exc:
            return number, {}, str(exc)

    def _add_group(self, collection: str, group: list[tuple[int, dict[str, Any],
                   PreparedArticle]], added_by: str | None) -> Iterator[BulkItem]:
        plans: list[tuple[int, PreparedArticle, AddResult | tuple[str, Article | None]]] = []
        for number, record, prep in group:
            try:
                plans.append((number, prep, self._plan(collection, prep, record.get("id"))))
            except CitebotError as exc:
                yield BulkItem(number, None, str(exc))
        todo = [(n, prep, plan) for n, prep, plan in plans if not isinstance(plan, AddResult)]
        vectors = self.embedder.embed([c.text for _, prep, _ in todo for c in prep.chunks])
        starts = np.cumsum([0] + [len(prep.chunks) for _, prep, _ in todo])
        spans = {n: (lo, hi) for (n, _, _), lo, hi in zip(todo, starts, starts[1:], strict=False)}
        for number, prep, decided in plans:  # each line's outcome as soon as it is known
            if isinstance(decided, AddResult):
                item = BulkItem(number, decided)
            else:
                lo, hi = spans[number]
                try:
                    item = BulkItem(number, self._store(collection, decided, prep,
                                                        vectors[lo:hi], added_by))
                except CitebotError as exc:
                    item = BulkItem(number, None, str(exc))
            yield item

    def _add_other(self, collection: str, number: int, record: dict[str, Any],
                   item: str | None, added_by: str | None) -> BulkItem:
        """A line that failed to parse (item is its error) or a URL to fetch."""
        if item is not None:
            return BulkItem(number, None, item)
        try:
            return BulkItem(number, self.add_url(collection, str(record["url"]),
                                                 title=record.get("title"), added_by=added_by))
        except CitebotError as exc:
            return BulkItem(number, None, str(exc))

    def storage_batch(self, collection: str):  # type: ignore[no-untyped-def]
        """Defer vector-file writes to the end of a bulk operation when the backend can."""
        batch = getattr(self.storage, "deferred_save", None)
        if batch is None:
            from contextlib import nullcontext

            return nullcontext()
        return batch(collection)

    def remove(self, collection: str, article_id: str) -> Article:
        """Remove an article and its passages from the collection."""
        return self.storage.remove_article(collection, article_id)

    def rebuild(self, collection: str,
                progress: Callable[[int, int], None] | None = None) -> int:
        """Re-embed every article of the collection with the configured model."""
        return self.storage.rebuild(collection, self.embedder.embed, self._chunker, progress)

    def _chunker(self, article: Article, passages: list[Passage]) -> list[Chunk]:
        return rechunk(article.title, [p.text for p in passages],
                       [p.sentences for p in passages], self.embedder.count_tokens,
                       self.embedder.max_tokens)


def _prefetch(pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], *,
              depth: int) -> Iterator[R]:
    """``map(fn, items)`` computed in ``pool`` at most ``depth`` items ahead, in order."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= depth:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


__all__ = ["AddResult", "BadLine", "BulkItem", "Hints", "Indexer", "IndexerOptions"]
