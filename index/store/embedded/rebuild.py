"""Rebuilding a collection's vectors: re-embed every article from SQLite, then swap.

New chunks are written beside the live ones as staged rows (``live = 0``); the new vector
index is built from them, and one SQLite transaction makes them live and drops the old rows,
after which the new index file is committed. Searches use the old index until then. A crash at
any point leaves either the old state (staged rows are never searched, and are discarded on the
next start or rebuild) or the new one (the vector file is repaired from SQLite on the next
open); a failure discards the staged rows at once. One rebuild runs at a time per collection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import numpy as np

from index.models import Article, Chunk, Passage
from index.store.embedded import reconcile
from index.store.embedded import vectors as vec
from index.store.embedded.failures import LOW_LEVEL
from index.store.embedded.locks import CollectionLocks
from index.store.embedded.sqlite_store import SQLiteStore

log = logging.getLogger(__name__)

Embed = Callable[[list[str]], np.ndarray]
Chunker = Callable[[Article, list[Passage]], list[Chunk]]


class Host(Protocol):
    """What a rebuild needs from the storage it runs in (``EmbeddedStorage``)."""

    sql: SQLiteStore
    locks: CollectionLocks
    model: str
    dim: int
    approximate_threshold: int

    def collection_dir(self, collection: str) -> Path: ...
    def writer(self, collection: str) -> AbstractContextManager[None]: ...
    def install(self, collection: str, index: vec.VectorIndex, generation: int) -> None: ...


def run_rebuild(host: Host, collection: str, embed: Embed, chunker: Chunker,
                progress: Callable[[int, int], None] | None = None) -> int:
    """Re-embed every article of the collection and swap the new vectors in; see the module."""
    with host.locks.hold(collection, "rebuild"):  # one rebuild at a time: they share staging
        directory = host.collection_dir(collection)
        # re-embedding a database that lost rows would make the loss look consistent
        reconcile.refuse_older(host.sql, collection, directory, vec.claim(directory),
                               counts=True)
        try:
            return _rebuild(host, collection, embed, chunker, progress)
        except BaseException:
            _discard_staged(host, collection)
            raise


def _rebuild(host: Host, collection: str, embed: Embed, chunker: Chunker,
             progress: Callable[[int, int], None] | None) -> int:
    sql = host.sql
    discarded = sql.discard_staged(collection)  # a crashed rebuild's rows are not ours
    if discarded:
        log.info("collection %s: discarded %d rows staged by an interrupted rebuild",
                 collection, discarded)
    articles = sql.list_articles(collection, limit=-1)
    for done, article in enumerate(articles, 1):
        _stage(sql, collection, article, embed, chunker)
        if progress:
            progress(done, len(articles))
    with host.writer(collection):
        for article_id in sql.unstaged_article_ids(collection):  # added while we embedded
            _stage(sql, collection, sql.get_article(collection, article_id), embed, chunker)
        ids, _, vectors = sql.chunk_vectors(collection, live=False, dim=host.dim)
        index = vec.build(ids, vectors, host.dim, host.approximate_threshold)
        with sql.write() as db:
            sql.promote_staged(db, collection)
            generation = sql.bump(db, collection, host.model, host.dim)
        host.install(collection, index, generation)  # never fails: the swap is committed
    log.info("collection %s rebuilt: %d articles, %d vectors (%s)", collection, len(articles),
             index.count, index.kind)
    return index.count


def _discard_staged(host: Host, collection: str) -> None:
    """After a failed rebuild, drop its staged rows (best effort: the next rebuild, or the
    next start, drops them otherwise; they are never searched)."""
    try:
        host.sql.discard_staged(collection)
    except LOW_LEVEL as exc:
        log.warning("collection %s: could not discard the rows of the failed rebuild (%s); "
                    "they are discarded on the next start", collection, exc)


def _stage(sql: SQLiteStore, collection: str, article: Article, embed: Embed,
           chunker: Chunker) -> None:
    pids = sql.article_paragraph_ids(collection, article.id)
    by_id = sql.passages(collection, pids)
    passages = [by_id[p] for p in pids if p in by_id]
    if not passages:
        return  # removed meanwhile
    chunks = chunker(article, passages)
    vectors = embed([c.text for c in chunks])
    spans = [(passages[c.paragraph].id, c.start, c.end) for c in chunks]
    with sql.write() as db:
        if sql.paragraphs_alive(db, pids):  # not replaced or removed while we embedded it
            sql.insert_chunks(db, collection, spans, vectors, live=False)
