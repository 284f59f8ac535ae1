"""The PostgreSQL storage backend: every collection in one database, vectors in pgvector.

It implements ``index.store.protocol.Storage`` with the embedded backend's behaviour (the
shared storage tests run on both). What differs is where things live: the vectors are rows,
searched by an IVFFlat index (``vector_index``) and re-scored exactly; the lexical index is
a GIN index over citebot's own lexemes, with document frequencies and lengths kept in the
database so BM25 ranks as in the embedded store. Many processes, on many machines, may use
one database:

- a change is one transaction; writers of a collection take turns on its row, readers never
  wait (MVCC) and only ever see committed rows, vectors included;
- adding an article again, from any process, replaces it (the primary key is the collection
  and the article's id, and the re-check against same-URL or same-content articles runs in
  the writer's turn), so concurrent adds never duplicate;
- one rebuild per collection at a time, by a session advisory lock that PostgreSQL releases
  if its process dies;
- reads may go to a streaming replica (``connections``).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import psycopg

from index.errors import IndexMismatchError, StorageError
from index.models import Article, Chunk, Passage, PreparedArticle
from index.store.postgres import articles as sql
from index.store.postgres import migrations, search, vector_index
from index.store.postgres.connections import LOW_LEVEL, Connections, connect, translated
from index.store.postgres.conversations import PostgresConversations
from index.store.postgres.feeds import PostgresFeeds
from index.store.postgres.insights import PostgresInsights
from index.store.postgres.rates import PostgresRates
from index.store.protocol import Hit, RateLedger, Stats, Vote, best_per_paragraph

log = logging.getLogger(__name__)
_REBUILD_LOCK = "hashtextextended('citebot:rebuild:' || %s, 0)"
_INTAKE_LOCK = "hashtextextended('citebot:intake:' || %s, 0)"


class PostgresStorage(PostgresFeeds, PostgresConversations, PostgresInsights):
    """Every collection in one PostgreSQL database (feeds: ``PostgresFeeds``; conversations:
    ``PostgresConversations``; insights: ``PostgresInsights``)."""

    def __init__(self, url: str, *, model: str, dim: int, read_url: str | None = None,
                 pool_size: int = 8, replica_wait_s: float = 2.0, lexical_max_df: int = 0,
                 approximate_threshold: int = 50_000, migrate: bool = True,
                 probes: int = vector_index.PROBES) -> None:
        """Connect, refuse a schema newer than this code, and apply missing migrations
        (unless ``migrate`` is False: then a database that lacks some is refused). A
        collection of at most ``approximate_threshold`` paragraphs is searched exactly;
        ``probes``: the vector index's lists a search scans."""
        self.url = url
        self.model = model
        self.dim = dim
        self.approximate_threshold = approximate_threshold
        self.probes = probes
        self.lexical_max_df = lexical_max_df
        self._deferred: Counter[str] = Counter()  # bulk adds under way, by collection
        prepare(url, migrate=migrate)
        self.db = Connections(url, read_url, pool_size=pool_size,
                              replica_wait_s=replica_wait_s)
        self.rates: RateLedger | None = PostgresRates(self.db)
        self._vectors_changed()  # a database that grew or was upgraded without its index

    # -- articles ------------------------------------------------------------------------
    def _check_model(self, model: str | None, dim: int | None, collection: str) -> None:
        if model is not None and (model != self.model or dim != self.dim):
            raise IndexMismatchError(
                f"Collection {collection!r} was embedded with the model {model!r} ({dim} "
                f"dimensions) but citebot is configured with {self.model!r} ({self.dim}). "
                "Run `citebot rebuild` to re-embed every article with the configured model.")

    @translated("look up the article")
    def find_existing(self, collection: str, article_id: str, canonical_url: str | None,
                      content_hash: str) -> Article | None:
        with self.db.primary.connection() as db:  # about to write: the primary's view
            return sql.find_existing(db, collection, article_id, canonical_url, content_hash)

    @translated("add the article", changes=True)
    def put_article(self, collection: str, article_id: str, prepared: PreparedArticle,
                    vectors: np.ndarray, *, added_by: str | None = None) -> Article:
        """Insert an article, replacing one with the same id; vectors are its chunks'.

        In the writer's turn, an article that another process added meanwhile with the same
        canonical URL or content (under another id) is the one replaced, as if it had been
        found before embedding: concurrent adds of one story never leave two copies.
        """
        with self.db.write(collection) as db:
            self._check_model(*sql.lock(db, collection), collection)
            same = sql.find_existing(db, collection, article_id, prepared.canonical_url,
                                     prepared.content_hash)
            if same is not None:
                article_id = same.id
                sql.delete_article(db, collection, same.id)
            article = sql.insert_article(db, collection, article_id, prepared, vectors,
                                         added_by)
            sql.bump(db, collection, self.model, self.dim)
        self._vectors_changed(collection)
        return article

    @translated("remove the article", changes=True)
    def remove_article(self, collection: str, article_id: str) -> Article:
        with self.db.write(collection) as db:
            self._check_model(*sql.lock(db, collection), collection)
            article = sql.get_article(db, collection, article_id)
            sql.delete_article(db, collection, article_id)
            sql.bump(db, collection, self.model, self.dim)
        self._vectors_changed(collection)
        return article

    @translated("read the article")
    def get_article(self, collection: str, article_id: str) -> Article:
        with self.db.read(collection) as db:
            return sql.get_article(db, collection, article_id)

    @translated("list the articles")
    def list_articles(self, collection: str, *, limit: int = 1000, offset: int = 0,
                      search: str | None = None) -> list[Article]:
        with self.db.read(collection) as db:
            return sql.list_articles(db, collection, limit=limit, offset=offset, search=search)

    @translated("list the collections")
    def collections(self) -> list[str]:
        with self.db.read() as db:
            rows = db.execute(
                "SELECT c.collection FROM collections c WHERE EXISTS (SELECT 1 FROM articles "
                "a WHERE a.collection = c.collection) ORDER BY 1").fetchall()
        return [r[0] for r in rows]

    @translated("read the collection's figures")
    def stats(self, collection: str) -> Stats:
        with self.db.read(collection) as db, db.transaction():
            generation, model, dim = sql.state(db, collection)
            self._check_model(model, dim, collection)
            counts = sql.counts(db, collection)
            lists = vector_index.current_lists(db, self.dim)
        approximate = lists is not None and counts["paragraphs"] > self.approximate_threshold
        return Stats(**counts, generation=generation, model=model or self.model,
                     dim=dim or self.dim,
                     index=(("ivfflat" if approximate else "flat") if generation else None),
                     vectors=counts["chunks"] if generation else None)

    @translated("read the passages")
    def passages(self, collection: str, ids: Sequence[int]) -> dict[int, Passage]:
        with self.db.read(collection) as db:
            return sql.passages(db, collection, ids)

    # -- search --------------------------------------------------------------------------
    @translated("score the passages")
    def dense_scores(self, collection: str, paragraph_ids: Sequence[int],
                     query: np.ndarray) -> dict[int, float]:
        """Exact cosine of these paragraphs (their best window) to the query."""
        with self.db.read(collection) as db:
            self._check_model(*sql.state(db, collection)[1:], collection)
            pids, vectors = sql.chunk_vectors(db, collection, paragraph_ids=list(paragraph_ids),
                                              dim=self.dim)
        scores = vectors @ query.astype(np.float32) if len(pids) else np.zeros(0)
        return dict(best_per_paragraph(pids.tolist(), scores.tolist(), len(pids)))

    @translated("search the passages")
    def dense_search(self, collection: str, query: np.ndarray, k: int,
                     article_id: str | None = None) -> list[Hit]:
        """Paragraphs by cosine, best first; a paragraph scores as its best window. Exact up
        to ``approximate_threshold`` paragraphs; above, the IVFFlat index finds candidates and
        each is re-scored exactly, as the embedded store's IVF ones are."""
        if article_id is not None:
            with self.db.read(collection) as db:
                own = sql.article_paragraph_ids(db, collection, article_id)
            best = sorted(self.dense_scores(collection, own, query).items(),
                          key=lambda kv: (-kv[1], kv[0]))[:k]
            return [Hit(p, s) for p, s in best]
        n = k * 4
        while True:  # more chunks while the closest are windows of fewer than k paragraphs
            with self.db.read(collection) as db:
                self._check_model(*sql.state(db, collection)[1:], collection)
                pids, vectors = search.nearest(
                    db, collection, query, n, self.dim, probes=self.probes,
                    exact_below=self.approximate_threshold)
            scores = vectors @ query.astype(np.float32) if len(pids) else np.zeros(0)
            hits = best_per_paragraph(pids.tolist(), scores.tolist(), k)
            if len(hits) >= k or len(pids) < n:
                return hits
            n *= 4

    @translated("search the passages' words")
    def lexical_search(self, collection: str, question: str, k: int,
                       article_id: str | None = None, also: Sequence[int] = ()) -> list[Hit]:
        with self.db.read(collection) as db, db.transaction():  # one snapshot
            found = search.lexical(db, collection, question, k, max_df=self.lexical_max_df,
                                   article_id=article_id, also=also)
        return [Hit(p, s) for p, s in found]

    # -- rebuild -------------------------------------------------------------------------
    @translated("rebuild the collection", changes=True)
    def rebuild(self, collection: str, embed: Callable[[list[str]], np.ndarray],
                chunker: Callable[[Article, list[Passage]], list[Chunk]],
                progress: Callable[[int, int], None] | None = None) -> int:
        """Re-embed every article into staged rows and make them live in one transaction;
        returns the vector count. Questions are answered from the old rows until then;
        articles added meanwhile are taken in; a failure discards the staged rows."""
        with self.db.primary.connection() as holder:
            row = holder.execute(f"SELECT pg_try_advisory_lock({_REBUILD_LOCK})",
                                 (collection,)).fetchone()
            if not (row and row[0]):
                raise StorageError(
                    f"Another process is rebuilding collection {collection!r}; wait for it "
                    "to finish (its progress is in its own output), then try again if needed.")
            try:
                return self._rebuild(collection, embed, chunker, progress)
            except BaseException:
                self._discard_staged(collection)
                raise
            finally:
                holder.execute(f"SELECT pg_advisory_unlock({_REBUILD_LOCK})", (collection,))

    def _rebuild(self, collection: str, embed: Callable[[list[str]], np.ndarray],
                 chunker: Callable[[Article, list[Passage]], list[Chunk]],
                 progress: Callable[[int, int], None] | None) -> int:
        discarded = self._discard_staged(collection)  # a crashed rebuild's rows are not ours
        if discarded:
            log.info("collection %s: discarded %d rows staged by an interrupted rebuild",
                     collection, discarded)
        with self.db.primary.connection() as db:
            articles = sql.list_articles(db, collection, limit=-1, offset=0, search=None)
        for done, article in enumerate(articles, 1):
            self._stage(collection, article, embed, chunker)
            if progress:
                progress(done, len(articles))
        with self.db.write(collection) as db:
            sql.lock(db, collection)
            for (article_id,) in db.execute(
                    "SELECT a.id FROM articles a WHERE a.collection = %s AND NOT EXISTS ("
                    "SELECT 1 FROM chunks c JOIN paragraphs p ON p.collection = c.collection "
                    "AND p.id = c.paragraph_id WHERE c.collection = a.collection AND "
                    "p.article_id = a.id AND NOT c.live)", (collection,)).fetchall():
                self._stage(collection, sql.get_article(db, collection, article_id), embed,
                            chunker, db)  # added while we embedded
            db.execute("DELETE FROM chunks WHERE collection = %s AND live", (collection,))
            promoted = db.execute("UPDATE chunks SET live = true WHERE collection = %s AND "
                                  "NOT live", (collection,)).rowcount
            sql.bump(db, collection, self.model, self.dim)
        log.info("collection %s rebuilt: %d articles, %d vectors", collection, len(articles),
                 promoted)
        self._vectors_changed(collection)
        return promoted

    def _stage(self, collection: str, article: Article, embed: Callable[[list[str]], np.ndarray],
               chunker: Callable[[Article, list[Passage]], list[Chunk]],
               db: psycopg.Connection | None = None) -> None:
        if db is None:
            with self.db.write(collection) as own:
                return self._stage(collection, article, embed, chunker, own)
        pids = sql.article_paragraph_ids(db, collection, article.id)
        by_id = sql.passages(db, collection, pids)
        passages = [by_id[p] for p in pids if p in by_id]
        if not passages:
            return None  # removed meanwhile
        chunks = chunker(article, passages)
        vectors = embed([c.text for c in chunks])
        sql.lock(db, collection)  # not replaced or removed while we embedded it
        if sql.article_paragraph_ids(db, collection, article.id) == pids:
            sql.insert_chunks(db, collection, [(passages[c.paragraph].id, c.start, c.end)
                                               for c in chunks], vectors, live=False)
        return None

    def _discard_staged(self, collection: str) -> int:
        try:
            with self.db.write(collection) as db:
                return db.execute("DELETE FROM chunks WHERE collection = %s AND NOT live",
                                  (collection,)).rowcount
        except psycopg.Error as exc:
            log.warning("collection %s: could not discard the rows of the failed rebuild (%s); "
                        "they are discarded by the next rebuild", collection, exc)
            return 0

    # -- votes and settings ---------------------------------------------------------------
    @translated("record the vote", changes=True)
    def record_vote(self, vote: Vote) -> None:
        """Keep a 👍/👎 on an answer; a member's second vote on it replaces the first."""
        with self.db.write() as db:
            db.execute(
                "INSERT INTO feedback(collection, answer_id, user_id, question, quotes, vote, "
                "created_at) VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (collection, answer_id, "
                "user_id) DO UPDATE SET vote = excluded.vote, created_at = excluded.created_at",
                (vote.collection, vote.answer_id, vote.user_id, vote.question,
                 json.dumps(vote.quotes), vote.vote, sql.utcnow()))

    @translated("read a setting")
    def meta_get(self, key: str) -> str | None:
        with self.db.primary.connection() as db:
            row = db.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return str(row[0]) if row else None

    @translated("save a setting", changes=True)
    def meta_set(self, key: str, value: str) -> None:
        with self.db.write() as db:
            db.execute("INSERT INTO meta(key, value) VALUES (%s, %s) ON CONFLICT (key) DO "
                       "UPDATE SET value = excluded.value", (key, value))

    @contextmanager
    def intake_turn(self, collection: str) -> Iterator[None]:
        """The collection's turn to take in an article within its daily quota, across every
        process on the database (a session advisory lock, released by the server if the
        process dies)."""
        with self.db.primary.connection() as holder:
            holder.execute(f"SELECT pg_advisory_lock({_INTAKE_LOCK})", (collection,))
            try:
                yield
            finally:
                holder.execute(f"SELECT pg_advisory_unlock({_INTAKE_LOCK})", (collection,))

    # -- the vector index -----------------------------------------------------------------
    @contextmanager
    def deferred_save(self, collection: str) -> Iterator[None]:
        """A bulk add: whether the vector index is due is asked once, at the end, instead of
        after each article (a bulk add past the threshold trains one index, not one per
        four-fold growth on the way)."""
        self._deferred[collection] += 1
        try:
            yield
        finally:
            self._deferred[collection] -= 1
            self._vectors_changed(collection)

    def _vectors_changed(self, collection: str | None = None) -> None:
        """Build the vector index if a change left it missing or outgrown
        (``vector_index``), unless a bulk add of this collection is under way. The change is
        done whatever happens here: a failure is logged, searches stay exact or use the old
        index, and the next change tries again."""
        if collection is not None and self._deferred[collection] > 0:
            return
        try:
            with self.db.primary.connection() as db:
                if not vector_index.due(db, self.dim, self.approximate_threshold):
                    return
            vector_index.train(self.url, self.dim, self.approximate_threshold)
        except (StorageError, *LOW_LEVEL) as exc:
            log.warning("Could not build PostgreSQL's vector index (%s). Searches go on, "
                        "exactly or with the index there was; it is tried again after the "
                        "next change.", exc)

    def close(self) -> None:
        self.db.close()


@translated("prepare the database")
def prepare(url: str, *, migrate: bool) -> None:
    """Refuse a newer schema and apply missing migrations."""
    with connect(url, autocommit=True) as conn:
        found = migrations.status(conn)
        migrations.refuse_newer(found)
        if found.pending and not migrate:
            raise StorageError(
                f"The database's schema is at version {found.version}; this citebot needs "
                f"version {found.latest}. Run `citebot db migrate`, then start it again.")
        if found.pending:
            migrations.migrate(conn)
