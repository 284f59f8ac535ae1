"""Rebuilding a collection's vectors: re-embed every article from SQLite, then swap.

New chunks are written beside the live ones as staged rows (``live = 0``); the new vector
index is built from them, and one SQLite transaction makes them live and drops the old rows,
after which the new index file is committed. A crash at any point leaves either the old state
(staged rows are discarded on the next rebuild) or the new one (the vector file is repaired
from SQLite on the next open).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from index import vectors as vec
from index.models import Article, Chunk, Passage

if TYPE_CHECKING:
    from index.storage import EmbeddedStorage

log = logging.getLogger(__name__)


def run_rebuild(
    store: EmbeddedStorage, collection: str, embed: Callable[[list[str]], np.ndarray],
    chunker: Callable[[Article, list[Passage]], list[Chunk]],
    progress: Callable[[int, int], None] | None = None,
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
        store.install(collection, index, generation)
    log.info("collection %s rebuilt: %d articles, %d vectors (%s)", collection, len(articles),
             index.count, index.kind)
    return index.count


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
    rows = store.sql.db().execute(
        "SELECT DISTINCT a.id FROM articles a JOIN paragraphs p ON p.article_pk = a.pk "
        "WHERE a.collection = ? AND NOT EXISTS "
        "(SELECT 1 FROM chunks c WHERE c.paragraph_id = p.id AND c.live = 0)",
        (collection,)).fetchall()
    return [store.sql.get_article(collection, r[0]) for r in rows]
