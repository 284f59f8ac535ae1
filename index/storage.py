"""Storage behind one small interface, and its embedded implementation (SQLite + FAISS files).

``Storage`` is everything retrieval and the interfaces need: articles, passages, vectors and
lexical search, per collection. ``EmbeddedStorage`` keeps SQLite as the source of truth (it
holds a copy of every vector) and one FAISS index per collection as derived data, repaired from
SQLite whenever the two disagree. A second backend (PostgreSQL + pgvector) implements the same
protocol.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from index import vectors as vec
from index.errors import IndexMismatchError
from index.models import Article, Chunk, Passage, PreparedArticle
from index.sqlite_store import SQLiteStore

log = logging.getLogger(__name__)


class Storage(Protocol):
    """What the core needs from a storage backend."""

    model: str
    dim: int

    def find_existing(self, collection: str, article_id: str, canonical_url: str | None,
                      content_hash: str) -> Article | None: ...
    def put_article(self, collection: str, article_id: str, prepared: PreparedArticle,
                    vectors: np.ndarray, *, added_by: str | None = None) -> Article: ...
    def remove_article(self, collection: str, article_id: str) -> Article: ...
    def get_article(self, collection: str, article_id: str) -> Article: ...
    def list_articles(self, collection: str, *, limit: int = 1000, offset: int = 0,
                      search: str | None = None) -> list[Article]: ...
    def stats(self, collection: str) -> dict[str, object]: ...
    def passages(self, collection: str, ids: Sequence[int]) -> dict[int, Passage]: ...
    def dense_search(self, collection: str, query: np.ndarray, k: int,
                     article_id: str | None = None) -> list[tuple[int, float]]: ...
    def lexical_search(self, collection: str, question: str, k: int,
                       article_id: str | None = None) -> list[tuple[int, float]]: ...
    def dense_scores(self, collection: str, paragraph_ids: Sequence[int],
                     query: np.ndarray) -> dict[int, float]: ...
    def rebuild(self, collection: str, embed: Callable[[list[str]], np.ndarray],
                chunker: Callable[[Article, list[Passage]], list[Chunk]],
                progress: Callable[[int, int], None] | None = None) -> int: ...
    def record_feedback(self, collection: str, question: str, quotes: list[dict[str, object]],
                        vote: int, user_id: str | None) -> None: ...
    def meta_get(self, key: str) -> str | None: ...
    def meta_set(self, key: str, value: str) -> None: ...
    def close(self) -> None: ...


class _ReadWriteLock:
    """Many readers (searches, saves to disk) or one writer (adding, removing vectors)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and self._readers == 0)
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


@dataclass
class _Loaded:
    index: vec.VectorIndex
    generation: int


class EmbeddedStorage:
    """SQLite + one FAISS index per collection, in a data directory."""

    def __init__(self, data_dir: Path, *, model: str, dim: int,
                 approximate_threshold: int = 50_000) -> None:
        self.data_dir = data_dir
        self.model = model
        self.dim = dim
        self.approximate_threshold = approximate_threshold
        self.sql = SQLiteStore(data_dir / "citebot.sqlite3")
        self._loaded: dict[str, _Loaded] = {}
        self._guard = threading.Lock()  # protects _loaded and _writers
        self._vectors = _ReadWriteLock()  # searches and saves read; adds and removes write
        self._writers: dict[str, threading.Lock] = {}
        self._deferred: set[str] = set()

    # -- locking -------------------------------------------------------------------------
    @contextmanager
    def writer(self, collection: str) -> Iterator[None]:
        """One writer at a time per collection, across threads and processes."""
        with self._guard:
            lock = self._writers.setdefault(collection, threading.Lock())
        lockfile = self._dir(collection) / "writer.lock"
        lockfile.parent.mkdir(parents=True, exist_ok=True)
        with lock, open(lockfile, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _dir(self, collection: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in collection)[:64]
        if safe != collection:  # keep distinct names distinct on disk
            safe += "-" + hashlib.sha256(collection.encode()).hexdigest()[:10]
        return self.data_dir / "collections" / safe

    # -- vectors -------------------------------------------------------------------------
    def _check_model(self, collection: str) -> None:
        _, model, dim = self.sql.collection_state(collection)
        if model is not None and (model != self.model or dim != self.dim):
            raise IndexMismatchError(
                f"Collection {collection!r} was embedded with the model {model!r} ({dim} "
                f"dimensions) but citebot is configured with {self.model!r} ({self.dim}). "
                "Run `citebot rebuild` to re-embed every article with the configured model.")

    def _index(self, collection: str) -> _Loaded:
        """The collection's vector index, loaded once and kept in step with SQLite."""
        generation, _, _ = self.sql.collection_state(collection)
        with self._guard:
            loaded = self._loaded.get(collection)
            if loaded is not None and loaded.generation == generation:
                return loaded
        self._check_model(collection)
        if loaded is None:
            try:
                opened = vec.VectorIndex.load(self._dir(collection), self.model, self.dim)
            except IndexMismatchError:  # SQLite already holds this model's vectors
                log.info("collection %s: stale vector file from another model", collection)
                opened = None
            loaded = _Loaded(opened[0], opened[1].generation) if opened else _Loaded(
                vec.VectorIndex(self.dim), -1)
        repaired = self._reconcile(collection, loaded.index)
        with self._guard:
            loaded.generation = generation
            self._loaded[collection] = loaded
        if repaired and collection not in self._deferred:
            self._save(collection, loaded)
        return loaded

    def _reconcile(self, collection: str, index: vec.VectorIndex) -> bool:
        """Make the vector index hold exactly SQLite's live chunks; True if it changed."""
        want = self.sql.live_chunk_ids(collection)
        have = index.ids()
        missing = np.setdiff1d(want, have, assume_unique=True)
        extra = np.setdiff1d(have, want, assume_unique=True)
        if len(extra):
            with self._vectors.write():
                index.remove(extra)
        for start in range(0, len(missing), 50_000):
            ids, _, vectors = self.sql.chunk_vectors(
                collection, missing[start:start + 50_000].tolist(), dim=self.dim)
            with self._vectors.write():
                index.add(ids, vectors)
        if len(missing) or len(extra):
            log.info("collection %s: vector index repaired from SQLite (%d added, %d removed)",
                     collection, len(missing), len(extra))
        return bool(len(missing) or len(extra))

    def _save(self, collection: str, loaded: _Loaded) -> None:
        """Persist the index, switching to an approximate one once it is large enough."""
        grown = loaded.index.kind == "flat" and loaded.index.count > self.approximate_threshold
        if grown or vec.needs_retrain(loaded.index):
            if loaded.index.kind == "flat":
                with self._vectors.read():
                    ids, vectors = loaded.index.ids(), loaded.index.vectors()
            else:
                ids, _, vectors = self.sql.chunk_vectors(collection, dim=self.dim)
            approximate = vec.build(ids, vectors, self.dim, self.approximate_threshold)
            log.info("collection %s: %d vectors, switching to %s", collection,
                     approximate.count, approximate.kind)
            with self._vectors.write():
                loaded.index = approximate
        manifest = vec.Manifest(self.model, self.dim, loaded.index.count, loaded.index.kind,
                                time.time(), loaded.generation)
        with self._vectors.read():
            loaded.index.save(self._dir(collection), manifest)

    @contextmanager
    def deferred_save(self, collection: str) -> Iterator[None]:
        """Write the vector file once at the end of a bulk operation instead of per article."""
        self._deferred.add(collection)
        try:
            yield
        finally:
            self._deferred.discard(collection)
            with self.writer(collection):
                self._save(collection, self._index(collection))

    def _apply(self, collection: str, generation: int, remove: Sequence[int],
               add_ids: Sequence[int], add_vectors: np.ndarray | None) -> None:
        """Apply a committed SQLite change to the in-memory index, then persist it."""
        loaded = self._index_for_write(collection)
        with self._vectors.write():
            loaded.index.remove(np.asarray(remove, np.int64))
            if add_vectors is not None:
                loaded.index.add(np.asarray(add_ids, np.int64), add_vectors)
            loaded.generation = generation
        if collection not in self._deferred:
            self._save(collection, loaded)

    def install(self, collection: str, index: vec.VectorIndex, generation: int) -> None:
        """Swap in a freshly built index (after its rows were made live in SQLite)."""
        loaded = _Loaded(index, generation)
        self._save(collection, loaded)
        with self._guard:
            self._loaded[collection] = loaded

    def _index_for_write(self, collection: str) -> _Loaded:
        with self._guard:
            loaded = self._loaded.get(collection)
        if loaded is None:
            loaded = self._index(collection)
        return loaded

    # -- articles ------------------------------------------------------------------------
    def find_existing(self, collection: str, article_id: str, canonical_url: str | None,
                      content_hash: str) -> Article | None:
        return self.sql.find_existing(collection, article_id, canonical_url, content_hash)

    def put_article(self, collection: str, article_id: str, prepared: PreparedArticle,
                    vectors: np.ndarray, *, added_by: str | None = None) -> Article:
        """Insert an article, replacing one with the same id; vectors are its chunks'."""
        with self.writer(collection):
            self._check_model(collection)
            self._index_for_write(collection)  # bring the index up to date before changing it
            with self.sql.write() as db:
                old: list[int] = []
                if db.execute("SELECT 1 FROM articles WHERE collection = ? AND id = ?",
                              (collection, article_id)).fetchone():
                    old = self.sql.delete_article(db, collection, article_id)
                article, new = self.sql.insert_article(
                    db, collection, article_id, prepared, vectors, added_by)
                generation = self.sql.bump(db, collection, self.model, self.dim)
            self._apply(collection, generation, old, new, vectors)
        return article

    def remove_article(self, collection: str, article_id: str) -> Article:
        with self.writer(collection):
            article = self.sql.get_article(collection, article_id)
            self._index_for_write(collection)
            with self.sql.write() as db:
                old = self.sql.delete_article(db, collection, article_id)
                generation = self.sql.bump(db, collection, self.model, self.dim)
            self._apply(collection, generation, old, [], None)
        return article

    def get_article(self, collection: str, article_id: str) -> Article:
        return self.sql.get_article(collection, article_id)

    def list_articles(self, collection: str, *, limit: int = 1000, offset: int = 0,
                      search: str | None = None) -> list[Article]:
        return self.sql.list_articles(collection, limit=limit, offset=offset, search=search)

    def stats(self, collection: str) -> dict[str, object]:
        counts = self.sql.counts(collection)
        generation, model, dim = self.sql.collection_state(collection)
        loaded = self._loaded.get(collection)
        return {**counts, "generation": generation, "model": model or self.model,
                "dim": dim or self.dim, "index": loaded.index.kind if loaded else None,
                "vectors": loaded.index.count if loaded else None}

    def passages(self, collection: str, ids: Sequence[int]) -> dict[int, Passage]:
        return self.sql.passages(collection, ids)

    # -- search --------------------------------------------------------------------------
    def dense_scores(self, collection: str, paragraph_ids: Sequence[int],
                     query: np.ndarray) -> dict[int, float]:
        """Exact cosine of these paragraphs (their best window) to the query."""
        _, chunk_pids, vectors = self.sql.chunk_vectors(
            collection, paragraph_ids=list(paragraph_ids), dim=self.dim)
        scores = vectors @ query.astype(np.float32) if len(chunk_pids) else np.zeros(0)
        return dict(_best_per_paragraph(chunk_pids.tolist(), scores.tolist(), len(chunk_pids)))

    def dense_search(self, collection: str, query: np.ndarray, k: int,
                     article_id: str | None = None) -> list[tuple[int, float]]:
        """(paragraph id, cosine) best first; a paragraph scores as its best window."""
        if article_id is not None:
            pids = self.sql.article_paragraph_ids(collection, article_id)
            return sorted(self.dense_scores(collection, pids, query).items(),
                          key=lambda kv: -kv[1])[:k]
        loaded = self._index(collection)
        exact = loaded.index.kind == "flat"
        with self._vectors.read():
            scores, ids = loaded.index.search(query.reshape(1, -1), k * (2 if exact else 4))
        if not exact:  # re-score the approximate candidates with the exact vectors
            _, chunk_pids, vectors = self.sql.chunk_vectors(
                collection, [int(i) for i in ids[0] if i >= 0], dim=self.dim)
            return _best_per_paragraph(chunk_pids.tolist(), (vectors @ query).tolist(), k)
        mapping = self.sql.chunk_paragraphs([int(i) for i in ids[0] if i >= 0])
        pairs = [(mapping[c], float(s)) for c, s in zip(ids[0], scores[0], strict=True)
                 if c >= 0 and int(c) in mapping]
        return _best_per_paragraph([p for p, _ in pairs], [s for _, s in pairs], k)

    def lexical_search(self, collection: str, question: str, k: int,
                       article_id: str | None = None) -> list[tuple[int, float]]:
        return self.sql.lexical_search(collection, question, k, article_id)

    # -- rebuild -------------------------------------------------------------------------
    def rebuild(self, collection: str, embed: Callable[[list[str]], np.ndarray],
                chunker: Callable[[Article, list[Passage]], list[Chunk]],
                progress: Callable[[int, int], None] | None = None) -> int:
        """Re-embed every article into a new index and swap it in; returns the vector count.

        Questions keep being answered from the old index until the swap. Articles added
        while the rebuild runs are taken in before the swap.
        """
        from index.rebuild import run_rebuild

        return run_rebuild(self, collection, embed, chunker, progress)

    def record_feedback(self, collection: str, question: str, quotes: list[dict[str, object]],
                        vote: int, user_id: str | None) -> None:
        """Keep a 👍/👎 on an answer (question, quotes shown, vote, who)."""
        self.sql.record_feedback(collection, question, quotes, vote, user_id)

    def meta_get(self, key: str) -> str | None:
        return self.sql.meta_get(key)

    def meta_set(self, key: str, value: str) -> None:
        self.sql.meta_set(key, value)

    def close(self) -> None:
        self.sql.close()


def _best_per_paragraph(pids: list[int], scores: list[float], k: int) -> list[tuple[int, float]]:
    best: dict[int, float] = {}
    for pid, score in zip(pids, scores, strict=True):
        if score > best.get(pid, -np.inf):
            best[pid] = score
    return sorted(best.items(), key=lambda kv: -kv[1])[:k]
