"""The embedded storage backend: SQLite + one FAISS file per collection, in a data directory.

It implements ``index.store.protocol.Storage``. ``EmbeddedStorage`` keeps SQLite as the
source of truth (it holds a copy of every vector) and one FAISS index per collection as
derived data, repaired from SQLite when the file is behind or damaged, never cut down to a
database that lost data (that is refused, ``index.store.embedded.integrity``). A change commits to
SQLite, then updates the in-memory index and saves its file: a failure before the commit
changes nothing (StorageError); one after it only costs the file, rebuilt on the next open.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.errors import CitebotError, IndexMismatchError, StorageError
from index.models import Article, Chunk, Passage, PreparedArticle
from index.store.embedded import integrity, reconcile
from index.store.embedded import vectors as vec
from index.store.embedded.conversation_tables import ConversationStorage, ConversationTables
from index.store.embedded.failures import LOW_LEVEL, translated
from index.store.embedded.feed_tables import FeedStorage, FeedTables
from index.store.embedded.insight_tables import InsightStorageOnTables, InsightTables
from index.store.embedded.integrity import collection_folder
from index.store.embedded.locks import CollectionLocks, InUse, ReadWriteLock
from index.store.embedded.rebuild import run_rebuild
from index.store.embedded.reconcile import Loaded
from index.store.protocol import Hit, RateLedger, Stats, Vote, best_per_paragraph

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    """One collection's in-memory vector index and the locks around it."""

    vectors: ReadWriteLock = field(default_factory=ReadWriteLock)  # searches vs changes
    sync: threading.Lock = field(default_factory=threading.Lock)  # one thread changes the index
    loaded: Loaded | None = None


class EmbeddedStorage(FeedStorage, ConversationStorage, InsightStorageOnTables):
    """SQLite + one FAISS index per collection, in a data directory (feeds: ``FeedStorage``;
    conversations: ``ConversationStorage``; insights: ``InsightStorageOnTables``).

    Lock order: the collection's writer lock, then its slot's ``sync``, then ``vectors``.
    """

    rates: RateLedger | None = None  # one machine: the bot counts its limits in memory

    def __init__(self, data_dir: Path, *, model: str, dim: int,
                 approximate_threshold: int = 50_000, lexical_max_df: int = 0,
                 quick_check_bytes: int | None = None) -> None:
        self.data_dir = data_dir
        self.model = model
        self.dim = dim
        self.approximate_threshold = approximate_threshold
        self.in_use = InUse(data_dir)
        try:
            self.sql = integrity.open_database(data_dir, lexical_max_df=lexical_max_df,
                                               quick_check_bytes=quick_check_bytes)
        except BaseException:
            self.in_use.release()
            raise
        self.locks = CollectionLocks(self.collection_dir)
        self.feed_tables = FeedTables(self.sql)
        self.conversation_tables = ConversationTables(self.sql)
        self.insight_tables = InsightTables(self.sql)
        self._guard = threading.Lock()  # protects _slots
        self._slots: dict[str, _Slot] = {}
        self._deferred: set[str] = set()

    # -- locking -------------------------------------------------------------------------
    @contextmanager
    def writer(self, collection: str) -> Iterator[None]:
        """One writer at a time per collection, across threads and processes."""
        with self.locks.hold(collection, "writer"):
            yield

    def collection_dir(self, collection: str) -> Path:
        return self.data_dir / "collections" / collection_folder(collection)

    def _slot(self, collection: str) -> _Slot:
        with self._guard:
            return self._slots.setdefault(collection, _Slot())

    # -- vectors -------------------------------------------------------------------------
    def _check_model(self, collection: str) -> None:
        _, model, dim = self.sql.collection_state(collection)
        if model is not None and (model != self.model or dim != self.dim):
            raise IndexMismatchError(
                f"Collection {collection!r} was embedded with the model {model!r} ({dim} "
                f"dimensions) but citebot is configured with {self.model!r} ({self.dim}). "
                "Run `citebot rebuild` to re-embed every article with the configured model.")

    def _index(self, collection: str) -> Loaded:
        """The collection's vector index, loaded once and kept in step with SQLite."""
        slot = self._slot(collection)
        loaded = slot.loaded
        if loaded is not None and loaded.generation == self.sql.collection_state(collection)[0]:
            return loaded
        with slot.sync:
            save = self._sync(collection, slot)
            loaded = slot.loaded
        assert loaded is not None
        if save and collection not in self._deferred:
            with self.locks.attempt(collection, "writer") as held:
                if held:  # else the writer saves it, or the next start repairs it
                    self._persist(collection)
        return loaded

    def _sync(self, collection: str, slot: _Slot) -> bool:
        """Make the slot's index hold exactly SQLite's live chunks (the first time, from its
        file, repaired and logged); True when the file on disk should be saved again."""
        self._check_model(collection)
        fresh = slot.loaded is None
        directory = self.collection_dir(collection)
        opened = (reconcile.Opened(slot.loaded, slot.loaded.generation, [], None) if slot.loaded
                  else reconcile.open_collection(directory, collection, self.locks, self.sql,
                                                 self.model, self.dim))
        loaded, saved_at, notes = opened.loaded, opened.saved_at, opened.notes
        plan = reconcile.plan(self.sql, collection, loaded.index, self.dim)
        reconcile.refuse_loss(self.sql, collection, directory, plan, opened, from_disk=fresh)
        stale = saved_at is not None and saved_at != plan.generation
        if stale:
            notes.append(f"the vector file was at generation {saved_at}, SQLite at "
                         f"{plan.generation}")
        if plan.changes:
            notes.append(plan.describe())
        with slot.vectors.write():
            loaded.index.remove(plan.extra)
            loaded.index.add(plan.ids, plan.vectors)
            loaded.generation = plan.generation
        slot.loaded = loaded
        if fresh and notes:
            log.info("collection %s: vector index repaired: %s", collection, "; ".join(notes))
        elif notes:
            log.debug("collection %s: caught up with SQLite: %s", collection, "; ".join(notes))
        return (fresh and bool(notes)) or plan.changes or stale

    def _persist(self, collection: str) -> None:
        """Save the index if it is in step with SQLite (call with the writer lock held).

        Best effort: the vectors are derived from SQLite, so a file that cannot be written is
        logged, and searches go on from memory until the next start repairs it.
        """
        if collection in self._deferred:
            return
        slot = self._slot(collection)
        try:
            with slot.sync:
                loaded = slot.loaded
                if loaded is None or loaded.generation != self.sql.collection_state(
                        collection)[0]:
                    return  # behind SQLite: whoever catches it up saves it
                self._maybe_approximate(collection, loaded, slot)
                with slot.vectors.read():
                    data = loaded.index.serialize()
                    manifest = vec.Manifest(self.model, self.dim, loaded.index.count,
                                            loaded.index.kind, time.time(), loaded.generation)
            removed = vec.write(self.collection_dir(collection), manifest, data)
            if removed:
                log.info("collection %s: removed leftover files %s", collection,
                         ", ".join(removed))
        except (StorageError, *LOW_LEVEL) as exc:
            log.warning("collection %s: could not save the vector index (%s). Searches use "
                        "the copy in memory; the file is rebuilt from SQLite when the "
                        "collection is next opened.", collection, exc)

    def _maybe_approximate(self, collection: str, loaded: Loaded, slot: _Slot) -> None:
        """Switch to an approximate index once the collection is large enough, or retrain one
        that has outgrown its clustering."""
        grown = loaded.index.kind == "flat" and loaded.index.count > self.approximate_threshold
        if not (grown or vec.needs_retrain(loaded.index)):
            return
        if loaded.index.kind == "flat":
            with slot.vectors.read():
                ids, vectors = loaded.index.ids(), loaded.index.vectors()
        else:
            ids, _, vectors = self.sql.chunk_vectors(collection, dim=self.dim)
        approximate = vec.build(ids, vectors, self.dim, self.approximate_threshold)
        log.info("collection %s: %d vectors, switching to %s", collection,
                 approximate.count, approximate.kind)
        with slot.vectors.write():
            loaded.index = approximate

    @contextmanager
    def deferred_save(self, collection: str) -> Iterator[None]:
        """Write the vector file once at the end of a bulk operation instead of per article."""
        self._deferred.add(collection)
        try:
            yield
        finally:
            self._deferred.discard(collection)
            try:
                with self.writer(collection):
                    self._index(collection)
                    self._persist(collection)
            except (CitebotError, *LOW_LEVEL) as exc:
                log.warning("collection %s: could not save the vectors after a bulk add (%s); "
                            "they are rebuilt from SQLite when next opened", collection, exc)

    def _apply(self, collection: str, generation: int, remove: Sequence[int],
               add_ids: Sequence[int], add_vectors: np.ndarray | None) -> None:
        """Apply a change SQLite has committed to the in-memory index, then save it. Never
        raises (the change is done); a failed update drops the index, reloaded on next use."""
        slot = self._slot(collection)
        try:
            with slot.sync:
                loaded = slot.loaded
                if loaded is not None:
                    in_step = loaded.generation in (generation - 1, generation)
                    stale = np.asarray([*remove, *add_ids], np.int64)
                    with slot.vectors.write():
                        loaded.index.remove(stale)  # idempotent if a reader caught up first
                        if add_vectors is not None:
                            loaded.index.add(np.asarray(add_ids, np.int64), add_vectors)
                        loaded.generation = generation if in_step else -1
        except Exception:
            log.exception("collection %s: could not update the vector index in memory; "
                          "reloading it from SQLite", collection)
            with slot.sync:
                slot.loaded = None
            return
        self._persist(collection)

    def install(self, collection: str, index: vec.VectorIndex, generation: int) -> None:
        """Swap in a freshly built index (after its rows were made live in SQLite)."""
        slot = self._slot(collection)
        with slot.sync:
            slot.loaded = Loaded(index, generation)
        self._persist(collection)

    # -- articles ------------------------------------------------------------------------
    @translated("look up the article")
    def find_existing(self, collection: str, article_id: str, canonical_url: str | None,
                      content_hash: str) -> Article | None:
        return self.sql.find_existing(collection, article_id, canonical_url, content_hash)

    @translated("add the article", changes=True)
    def put_article(self, collection: str, article_id: str, prepared: PreparedArticle,
                    vectors: np.ndarray, *, added_by: str | None = None) -> Article:
        """Insert an article, replacing one with the same id; vectors are its chunks'. In
        the writer's turn, one stored meanwhile under another id with the same canonical URL
        or content (a bulk add embeds before it stores) is the one replaced, as on PostgreSQL."""
        with self.writer(collection):
            self._index(collection)  # in step with SQLite (other processes) before changing it
            same = self.sql.find_existing(collection, article_id, prepared.canonical_url,
                                          prepared.content_hash)
            article_id = same.id if same is not None else article_id
            with self.sql.write() as db:
                old: list[int] = []
                if self.sql.article_exists(db, collection, article_id):
                    old = self.sql.delete_article(db, collection, article_id)
                article, new = self.sql.insert_article(
                    db, collection, article_id, prepared, vectors, added_by)
                generation = self.sql.bump(db, collection, self.model, self.dim)
            self._apply(collection, generation, old, new, vectors)
        return article

    @translated("remove the article", changes=True)
    def remove_article(self, collection: str, article_id: str) -> Article:
        with self.writer(collection):
            article = self.sql.get_article(collection, article_id)
            self._index(collection)
            with self.sql.write() as db:
                old = self.sql.delete_article(db, collection, article_id)
                generation = self.sql.bump(db, collection, self.model, self.dim)
            self._apply(collection, generation, old, [], None)
        return article

    @translated("read the article")
    def get_article(self, collection: str, article_id: str) -> Article:
        return self.sql.get_article(collection, article_id)

    @translated("list the articles")
    def list_articles(self, collection: str, *, limit: int = 1000, offset: int = 0,
                      search: str | None = None) -> list[Article]:
        return self.sql.list_articles(collection, limit=limit, offset=offset, search=search)

    @translated("list the collections")
    def collections(self) -> list[str]:
        return self.sql.collections()

    @translated("read the collection's figures")
    def stats(self, collection: str) -> Stats:
        loaded = self._index(collection)  # load (and repair) it, or refuse a damaged one
        counts = self.sql.counts(collection)
        generation, model, dim = self.sql.collection_state(collection)
        return Stats(**counts, generation=generation, model=model or self.model,
                     dim=dim or self.dim, index=loaded.index.kind if generation else None,
                     vectors=loaded.index.count if generation else None)

    @translated("read the passages")
    def passages(self, collection: str, ids: Sequence[int]) -> dict[int, Passage]:
        return self.sql.passages(collection, ids)

    # -- search --------------------------------------------------------------------------
    @translated("score the passages")
    def dense_scores(self, collection: str, paragraph_ids: Sequence[int],
                     query: np.ndarray) -> dict[int, float]:
        """Exact cosine of these paragraphs (their best window) to the query."""
        _, chunk_pids, vectors = self.sql.chunk_vectors(
            collection, paragraph_ids=list(paragraph_ids), dim=self.dim)
        scores = vectors @ query.astype(np.float32) if len(chunk_pids) else np.zeros(0)
        return dict(best_per_paragraph(chunk_pids.tolist(), scores.tolist(), len(chunk_pids)))

    @translated("search the passages")
    def dense_search(self, collection: str, query: np.ndarray, k: int,
                     article_id: str | None = None) -> list[Hit]:
        """Paragraphs by cosine, best first; a paragraph scores as its best window."""
        if article_id is not None:
            pids = self.sql.article_paragraph_ids(collection, article_id)
            by_paragraph = self.dense_scores(collection, pids, query)
            best = sorted(by_paragraph.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
            return [Hit(p, s) for p, s in best]
        n = k * 2
        while True:  # more chunks while the closest are windows of fewer than k paragraphs
            hits, count = self._nearest_paragraphs(collection, query, n, k)
            if len(hits) >= k or n >= count:
                return hits
            n *= 4

    def _nearest_paragraphs(self, collection: str, query: np.ndarray, n: int,
                            k: int) -> tuple[list[Hit], int]:
        """The best k paragraphs of the n nearest chunks, and how many chunks there are."""
        for last in (False, True):  # once more if a writer swapped chunks under the search
            loaded = self._index(collection)
            exact = loaded.index.kind == "flat"
            with self._slot(collection).vectors.read():
                scores, ids = loaded.index.search(query.reshape(1, -1), n if exact else 2 * n)
            found = [int(i) for i in ids[0] if i >= 0]
            if not exact:  # re-score the approximate candidates with the exact vectors
                cids, chunk_pids, vectors = self.sql.chunk_vectors(collection, found, dim=self.dim)
                if last or len(cids) == len(found):
                    return best_per_paragraph(chunk_pids.tolist(), (vectors @ query).tolist(),
                                              k), loaded.index.count
                continue
            mapping = self.sql.chunk_paragraphs(collection, found)
            if last or len(mapping) == len(found):
                pairs = [(mapping[c], float(s)) for c, s in zip(ids[0], scores[0], strict=True)
                         if c >= 0 and int(c) in mapping]
                return (best_per_paragraph([p for p, _ in pairs], [s for _, s in pairs], k),
                        loaded.index.count)
        raise AssertionError("unreachable")

    @translated("search the passages' words")
    def lexical_search(self, collection: str, question: str, k: int,
                       article_id: str | None = None,
                       also: Sequence[int] = ()) -> list[Hit]:
        return [Hit(p, s) for p, s in self.sql.lexical_search(
            collection, question, k, article_id, also)]

    # -- rebuild -------------------------------------------------------------------------
    @translated("rebuild the collection", changes=True)
    def rebuild(self, collection: str, embed: Callable[[list[str]], np.ndarray],
                chunker: Callable[[Article, list[Passage]], list[Chunk]],
                progress: Callable[[int, int], None] | None = None) -> int:
        """Re-embed every article into a new index and swap it in; returns the vector count.

        Questions keep being answered from the old index until the swap. Articles added
        while the rebuild runs are taken in before the swap. A rebuild that fails changes
        nothing: its staged rows are discarded.
        """
        return run_rebuild(self, collection, embed, chunker, progress)

    @translated("record the vote", changes=True)
    def record_vote(self, vote: Vote) -> None:
        """Keep a 👍/👎 on an answer; a member's second vote on it replaces the first."""
        self.sql.record_vote(vote)

    @translated("read a setting")
    def meta_get(self, key: str) -> str | None:
        return self.sql.meta_get(key)

    @translated("save a setting", changes=True)
    def meta_set(self, key: str, value: str) -> None:
        self.sql.meta_set(key, value)

    @contextmanager
    def intake_turn(self, collection: str) -> Iterator[None]:
        """The collection's turn to take in an article within its daily quota, across the
        processes sharing the data directory (the quota is read and used within it)."""
        with self.locks.hold(collection, "intake"):
            yield

    def close(self) -> None:
        self.sql.close()
        self.in_use.release()
