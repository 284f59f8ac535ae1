"""Getting articles in: from a URL, a file, pasted text or JSON Lines, into storage."""

from __future__ import annotations

import json
import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from config.settings import Settings
from index.embed import Embedder
from index.errors import ArticleError, CitebotError, ExtractionError, TooLargeError
from index.models import Article, Chunk, Passage, PreparedArticle
from index.prepare import article_id_for, canonical_url, prepare, rechunk
from index.storage import Storage

log = logging.getLogger(__name__)

_HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
_TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text", ""}
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
class BulkItem:
    """One line of a bulk add: its result, or the error that stopped it."""

    line: int
    result: AddResult | None
    error: str | None = None


class Indexer:
    """Adds, removes and rebuilds articles of a collection."""

    def __init__(self, *, settings: Settings, storage: Storage, embedder: Embedder) -> None:
        self.settings = settings
        self.storage = storage
        self.embedder = embedder

    def add_text(
        self, collection: str, *, title: str, text: str, url: str | None = None,
        source: str | None = None, published: str | None = None, author: str | None = None,
        article_id: str | None = None, added_by: str | None = None,
    ) -> AddResult:
        """Add (or update in place) an article given as text."""
        self._check_size(text)
        prepared = prepare(
            title=title, text=text, url=url, source=source, published=published, author=author,
            count_tokens=self.embedder.count_tokens, max_tokens=self.embedder.max_tokens)
        return self.add_prepared(collection, prepared, article_id=article_id, added_by=added_by)

    def _check_size(self, text: str) -> None:
        if len(text.encode("utf-8", "surrogatepass")) > self.settings.max_article_bytes:
            raise TooLargeError(
                f"The article is larger than the limit of {self.settings.max_article_bytes:,} "
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
        data = read_limited(path, self.settings.max_article_bytes)
        suffix = path.suffix.lower()
        if suffix in _HTML_SUFFIXES:
            return self.add_html(collection, decode(data), url=None, title=title,
                                 added_by=added_by)
        if suffix not in _TEXT_SUFFIXES:
            raise ArticleError(
                f"{path.name}: citebot reads .txt, .md and .html files; convert it first.")
        text = decode(data)
        return self.add_plain(collection, text, title=title, added_by=added_by,
                              name=path.stem)

    def add_plain(self, collection: str, text: str, *, title: str | None = None,
                  added_by: str | None = None, name: str = "article",
                  url: str | None = None) -> AddResult:
        """Add plain text or Markdown: the first line is the title unless one is given."""
        if title is None:
            first, _, rest = text.lstrip().partition("\n")
            title = first.strip().lstrip("#").strip() or name
            text = rest
        return self.add_text(collection, title=title, text=text, url=url, added_by=added_by)

    def add_html(self, collection: str, html: str, *, url: str | None, title: str | None = None,
                 added_by: str | None = None) -> AddResult:
        from index.extract import extract_html_isolated

        page = extract_html_isolated(html, url, timeout_s=self.settings.extract_timeout_s)
        return self.add_text(
            collection, title=title or page.title or "Untitled", text=page.text,
            url=page.url or url, source=page.source, published=page.published,
            author=page.author, added_by=added_by)

    def add_url(self, collection: str, url: str, *, title: str | None = None,
                added_by: str | None = None) -> AddResult:
        """Fetch a web page (safely) and add the article it holds."""
        from index.fetch import fetch

        doc = fetch(url, fetch_policy(self.settings))
        if doc.content_type == "text/html":
            return self.add_html(collection, doc.text, url=doc.final_url, title=title,
                                 added_by=added_by)
        return self.add_plain(collection, doc.text, title=title, added_by=added_by,
                              url=doc.final_url)

    def add_jsonl(self, collection: str, lines: Iterable[str], *,
                  added_by: str | None = None) -> Iterator[BulkItem]:
        """Add one article per JSON line; a bad line is reported and the rest go on.

        Articles given as text are prepared in a background thread while the previous group
        is embedded, and embedded in groups across articles (fewer, fuller model batches).
        """
        records = ((n, line) for n, line in enumerate(lines, 1) if line.strip())
        with self.storage_batch(collection), ThreadPoolExecutor(1) as pool:
            prepared = _prefetch(pool, self._prepare_record, records, depth=32)
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

    def _prepare_record(self, numbered: tuple[int, str]) -> tuple[
            int, dict[str, Any], PreparedArticle | str | None]:
        """(line, record, prepared article | error message | None for a URL to fetch)."""
        number, line = numbered
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("each line must be a JSON object")
            if record.get("text") is None:
                if not record.get("url"):
                    raise ValueError("a line needs \"text\" or \"url\"")
                return number, record, None
            if not record.get("title"):
                raise ValueError("a line with \"text\" needs a \"title\"")
            text = str(record["text"])
            self._check_size(text)
            return number, record, prepare(
                title=str(record["title"]), text=text, url=record.get("url"),
                source=record.get("source"), published=record.get("published"),
                author=record.get("author"), count_tokens=self.embedder.count_tokens,
                max_tokens=self.embedder.max_tokens)
        except (CitebotError, ValueError, TypeError) as exc:
            return number, {}, str(exc)

    def _add_group(self, collection: str, group: list[tuple[int, dict[str, Any],
                   PreparedArticle]], added_by: str | None) -> Iterator[BulkItem]:
        plans: list[tuple[int, PreparedArticle, AddResult | tuple[str, Article | None]]] = []
        for number, record, prep in group:
            rid = record.get("id")
            try:
                plans.append((number, prep, self._plan(
                    collection, prep, str(rid) if rid is not None else None)))
            except CitebotError as exc:
                yield BulkItem(number, None, str(exc))
        todo = [(n, prep, plan) for n, prep, plan in plans if not isinstance(plan, AddResult)]
        vectors = self.embedder.embed([c.text for _, prep, _ in todo for c in prep.chunks])
        offsets = np.cumsum([0] + [len(prep.chunks) for _, prep, _ in todo])
        stored: dict[int, AddResult | CitebotError] = {}
        for (number, prep, plan), lo, hi in zip(todo, offsets, offsets[1:], strict=False):
            try:
                stored[number] = self._store(collection, plan, prep,  # type: ignore[arg-type]
                                             vectors[lo:hi], added_by)
            except CitebotError as exc:
                stored[number] = exc
        for number, _, decided in plans:
            outcome = decided if isinstance(decided, AddResult) else stored[number]
            if isinstance(outcome, AddResult):
                yield BulkItem(number, outcome)
            else:
                yield BulkItem(number, None, str(outcome))

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


def fetch_policy(settings: Settings):  # type: ignore[no-untyped-def]
    """The URL fetcher's limits, from settings."""
    from index.fetch import FetchPolicy

    return FetchPolicy(
        max_bytes=settings.max_article_bytes, timeout_s=settings.fetch_timeout_s,
        allow_networks=tuple(settings.fetch_allow_networks),
        use_env_proxy=settings.fetch_use_env_proxy)


def read_limited(path: Path, limit: int) -> bytes:
    """A file's bytes, refusing (before reading) one larger than the limit."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise TooLargeError(
                f"{path.name} is {size:,} bytes, over the limit of {limit:,}; "
                "split it or raise CITEBOT_MAX_ARTICLE_BYTES.")
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise ArticleError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise TooLargeError(f"{path.name} is over the limit of {limit:,} bytes.")
    return data


def decode(data: bytes) -> str:
    """Text from bytes: UTF-8 (with or without BOM), else a detected charset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is not None:
            return str(best)
    except ImportError:
        pass
    if b"\x00" in data[:4096]:
        raise ExtractionError("This looks like a binary file, not text.")
    return data.decode("latin-1")


__all__ = ["AddResult", "BulkItem", "Indexer", "canonical_url", "decode", "read_limited"]
