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
from typing import TYPE_CHECKING

import numpy as np

from index.failures import LOW_LEVEL
from index.models import Article, Chunk, Passage
from index.store import reconcile
from index.store import vectors as vec

if TYPE_CHECKING:
    from index.store.embedded import EmbeddedStorage

log = logging.getLogger(__name__)


def run_rebuild(
    store: EmbeddedStorage, collection: str, embed: Callable[[list[str]], np.ndarray],
    chunker: Callable[[Article, list[Passage]], list[Chunk]],
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Re-embed every article of the collection and swap the new vectors in; see the module."""
    with store.locks.hold(collection, "rebuild"):  # one rebuild at a time: they share staging
        directory = store._dir(collection)
        # re-embedding a database that lost rows would make the loss look consistent
        reconcile.refuse_older(store.sql, collection, directory, vec.claim(directory),
                               counts=True)
        try:
            return _rebuild(store, collection, embed, chunker, progress)
        except BaseException:
            _discard_staged(store, collection)
            raise


def _rebuild(
    store: EmbeddedStorage, collection: str, embed: Callable[[list[str]], np.ndarray],
    chunker: Callable[[Article, list[Passage]], list[Chunk]],
    progress: Callable[[int, int], None] | None,
) -> int:
    sql = store.sql
    with sql.write() as db:
        db.execute("DELETE FROM chunks WHERE collection = ? AND live = 0", (collection,))
    articles = sql.list_articles(collection, limit=-1)
    for done, article in enumerate(articles, 1):
        _stage(store, collection, article, embed, chunker)
        if progress:
            progress(done, len(articles))
    with store.writer(collection):
        for article in _unstaged(store, collection):  # added while we were embedding
            _stage(store, collection, article, embed, chunker)
        ids, _, vectors = sql.chunk_vectors(collection, live=False, dim=store.dim)
        index = vec.build(ids, vectors, store.dim, store.approximate_threshold)
        with sql.write() as db:
            db.execute("DELETE FROM chunks WHERE collection = ? AND live = 1", (collection,))
            db.execute("UPDATE chunks SET live = 1 WHERE collection = ? AND live = 0",
                       (collection,))
            generation = sql.bump(db, collection, store.model, store.dim)
        store.install(collection, index, generation)  # never fails: the swap is committed
    log.info("collection %s rebuilt: %d articles, %d vectors (%s)", collection, len(articles),
             index.count, index.kind)
    return index.count


def _discard_staged(store: EmbeddedStorage, collection: str) -> None:
    """After a failed rebuild, drop its staged rows (best effort: the next rebuild, or the
    next start, drops them otherwise; they are never searched)."""
    try:
        with store.sql.write() as db:
            db.execute("DELETE FROM chunks WHERE collection = ? AND live = 0", (collection,))
    except LOW_LEVEL as exc:
        log.warning("collection %s: could not discard the rows of the failed rebuild (%s); "
                    "they are discarded on the next start", collection, exc)


def _stage(store: EmbeddedStorage, collection: str, article: Article,
           embed: Callable[[list[str]], np.ndarray],
           chunker: Callable[[Article, list[Passage]], list[Chunk]]) -> None:
    sql = store.sql
    pids = sql.article_paragraph_ids(collection, article.id)
    by_id = sql.passages(collection, pids)
    passages = [by_id[p] for p in pids if p in by_id]
    if not passages:
        return  # removed meanwhile
    chunks = chunker(article, passages)
    vectors = embed([c.text for c in chunks])
    spans = [(passages[c.paragraph].id, c.start, c.end) for c in chunks]
    with sql.write() as db:
        alive = db.execute(
            "SELECT count(*) FROM paragraphs WHERE id IN ({})".format(",".join("?" * len(pids))),
            pids).fetchone()[0]
        if alive == len(pids):  # not replaced or removed while we embedded it
            sql.insert_chunks(db, collection, spans, vectors, live=False)


def _unstaged(store: EmbeddedStorage, collection: str) -> list[Article]:
    """Articles with no staged chunk (an article's chunks are staged in one transaction)."""
    rows = store.sql.db().execute(
        "SELECT a.id FROM articles a WHERE a.collection = ? AND NOT EXISTS "
        "(SELECT 1 FROM paragraphs p JOIN chunks c ON c.paragraph_id = p.id "
        "WHERE p.article_pk = a.pk AND c.live = 0)",
        (collection,)).fetchall()
    return [store.sql.get_article(collection, r[0]) for r in rows]
