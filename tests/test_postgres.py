"""The PostgreSQL backend's own behaviour with articles and search, on a real PostgreSQL with
pgvector (tests/postgres.py): filtered vector-index search and the index's training, BM25 ranking alike on both backends, a
story added twice at once kept once, rebuilds and questions that never wait for writers.
Migrations are in test_pg_migrations.py, replicas in test_pg_replicas.py, processes killed
in test_pg_kills.py; the behaviour both backends share is tested on both by the storage and
feed tests (``any_core``)."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import numpy as np
import psycopg
import pytest

from config.settings import Settings
from index.errors import StorageError
from index.models import Chunk, PreparedArticle, PreparedParagraph, Sentence
from retrieval.core import Core
from tests.fakes import HashEmbedder
from tests.pg_checks import pg_problems
from tests.pg_support import fill
from tests.storage_checks import SEED, make_article, state


# -- search -------------------------------------------------------------------------------
def test_a_filtered_index_search_returns_k_rows(pg_settings: Settings, pg_url: str) -> None:
    """A small collection beside a large one, searched through the IVFFlat index: the scan
    goes on to more lists (iterative scan) until it has k rows of the collection asked, where
    a plain scan of the lists probed finds only the few of them in those lists."""
    from pgvector.psycopg import register_vector

    from index.store.postgres import search

    core = Core.open(pg_settings.model_copy(update={"approximate_threshold": 100}),
                     embedder=HashEmbedder())
    try:
        fill(core, "large", 150, SEED, paragraphs=4)
        fill(core, "small", 15, SEED + 1, paragraphs=2)
        query = core.embedder.embed_query("harbor council budget")
        with psycopg.connect(pg_url, autocommit=True) as db:
            register_vector(db)
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                db.execute(f"SET {setting} = off")  # as on a large table: the index, no sort
            plan = " ".join(r[0] for r in db.execute(
                "EXPLAIN SELECT paragraph_id FROM chunks WHERE collection = 'small' AND live "
                "AND vector_dims(embedding) = 64 ORDER BY embedding::halfvec(64) <=> "
                "array_fill(0.1, ARRAY[64])::halfvec(64) LIMIT 40"))
            assert "chunks_ivfflat_64_15" in plan  # 600 // 39 lists, trained after the large one
            pids, _ = search.nearest(db, "small", query, 20, 64, probes=1)
        assert len(pids) == 20  # of the small collection's 30, from one list of 15 probed
        small = core.storage.passages("small", pids.tolist())
        assert set(small) == set(pids.tolist())  # only the collection asked
        assert len(core.storage.dense_search("small", query, 10)) == 10
    finally:
        core.close()


def test_the_index_search_scans_as_many_lists_as_the_setting_asks(
        pg_settings: Settings, pg_url: str) -> None:
    """CITEBOT_DATABASE_PROBES reaches PostgreSQL's vector search: a collection beside
    another as large, searched through the index as on a large table, misses more of the
    exact 10 nearest with one list scanned than with the default."""
    rng = np.random.default_rng(SEED)
    with psycopg.connect(pg_url, autocommit=True) as db:
        name = db.info.dbname
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            db.execute(f'ALTER DATABASE "{name}" SET {setting} = off')  # the index, not a sort
    # searched through the index, not exactly: above the threshold for an approximate search
    settings = pg_settings.model_copy(update={"approximate_threshold": 100})
    low, default = (Core.open(settings.model_copy(update={"database_probes": probes}),
                              embedder=HashEmbedder(dim=DIM)) for probes in (1, 40))
    try:
        vectors = {c: _random_vectors(low, c, rng) for c in ("measured", "other")}
        queries = _unit(rng.normal(size=(30, DIM)))
        found = [_recall(core, "measured", vectors["measured"], queries)
                 for core in (low, default)]
    finally:
        low.close()
        default.close()
    assert found[0] < found[1], found  # the same index: equal if the setting were ignored


def test_the_index_has_the_embedded_stores_lists() -> None:
    """About 4√n lists, as the embedded store's IVF (√n mixed too many topics at 1M), at most
    one per 39 vectors and pgvector's 32,768."""
    from index.store.embedded.vectors import ideal_nlist
    from index.store.postgres.vector_index import lists_for

    assert [lists_for(n) for n in (100_000, 1_000_000)] == [1265, 4000]
    assert [lists_for(n) for n in (0, 103, 600)] == [1, 2, 15]
    assert lists_for(10**9) == 32_768
    for n in (50_001, 100_000, 1_000_000):
        assert abs(lists_for(n) - ideal_nlist(n)) <= 1


DIM = 256  # random vectors in many dimensions: an index search misses some at a low setting


def test_the_lists_scanned_are_the_settings_at_most_every_list() -> None:
    """As many lists as the setting asks, never more than the index has or pgvector's 1000."""
    from index.store.postgres.vector_index import probes

    assert [probes(40, lists) for lists in (1000, 25, None)] == [40, 25, 40]
    assert probes(1000, 5000) == 1000


def _lists(url: str) -> list[str]:
    """The vector indexes' names, valid or not."""
    with psycopg.connect(url) as db:
        return sorted(r[0] for r in db.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'i' AND relname LIKE 'chunks\\_%' "
            "AND relname NOT IN ('chunks_live', 'chunks_paragraph', 'chunks_pkey')"))


def test_the_vector_index_is_built_past_the_threshold_and_again_as_the_database_grows(
        pg_settings: Settings, pg_url: str) -> None:
    """No index up to the approximate threshold (searches are exact); past it, one with 4√n
    lists, at most one per 39 vectors, trained on the vectors there; at four times as many,
    another with more lists in its place, whichever collection grew. A bulk add trains once,
    at its end."""
    from index.store.postgres import vector_index

    core = Core.open(pg_settings.model_copy(update={"approximate_threshold": 100}),
                     embedder=HashEmbedder())
    try:
        fill(core, "one", 20, SEED, paragraphs=5)  # 100 paragraphs
        assert _lists(pg_url) == []
        assert core.storage.stats("one").index == "flat"
        _, text = make_article(random.Random(SEED), 3)
        core.indexer.add_text("one", title="One more", text=text)
        assert _lists(pg_url) == ["chunks_ivfflat_64_2"]  # 103 // 39
        assert core.storage.stats("one").index == "ivfflat"
        with psycopg.connect(pg_url) as db:  # another dimension's is not this one's
            assert vector_index.current_lists(db, 64) == 2
            assert vector_index.current_lists(db, 6) is None
        with core.storage.deferred_save("two"):  # type: ignore[attr-defined]
            fill(core, "two", 60, SEED + 1, paragraphs=5)
            assert _lists(pg_url) == ["chunks_ivfflat_64_2"]  # not during a bulk add
        assert _lists(pg_url) == ["chunks_ivfflat_64_10"]  # 403 // 39, the 2 lists dropped
        assert core.storage.stats("two").index == "ivfflat"
        for article in core.storage.list_articles("two", limit=-1)[:59]:
            core.indexer.remove("two", article.id)
        assert _lists(pg_url) == ["chunks_ivfflat_64_2"]  # 108: a quarter as many
    finally:
        core.close()


def test_one_process_builds_the_index_and_a_failed_build_loses_no_article(
        pg_settings: Settings, pg_url: str, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """While another process builds the index (its advisory lock held), a writer that finds
    it due goes on without building a second; a build that fails leaves the article added,
    says so in the log, and the next change builds it."""
    from index.store.postgres import vector_index

    core = Core.open(pg_settings.model_copy(update={"approximate_threshold": 20}),
                     embedder=HashEmbedder())
    try:
        with psycopg.connect(pg_url, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(hashtextextended('citebot:vector-index:' "
                          "|| '64', 0))")
            fill(core, "one", 6, SEED, paragraphs=5)
            assert _lists(pg_url) == []  # the other process's turn
        real = vector_index.train

        def failing(url: str, dim: int, threshold: int) -> int | None:
            raise psycopg.OperationalError("the server closed the connection")

        monkeypatch.setattr(vector_index, "train", failing)
        _, text = make_article(random.Random(SEED), 3)
        added = core.indexer.add_text("one", title="Kept", text=text)
        assert core.storage.get_article("one", added.article.id).title == "Kept"
        assert "Could not build PostgreSQL's vector index" in caplog.text
        monkeypatch.setattr(vector_index, "train", real)
        core.indexer.add_text("one", title="Later", text=text + " Later.")
        assert _lists(pg_url) == ["chunks_ivfflat_64_1"]  # 36 vectors: one list
    finally:
        core.close()


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _random_vectors(core: Core, collection: str, rng: np.random.Generator,
                    articles: int = 20, paragraphs: int = 100) -> np.ndarray:
    """Store articles whose passages have random vectors (the hardest case for a graph
    search); the vectors, article by article, passage by passage."""
    vectors = _unit(rng.normal(size=(articles * paragraphs, DIM)))
    for a in range(articles):
        texts = [f"passage {a} {p}." for p in range(paragraphs)]
        prepared = PreparedArticle(
            title=f"Article {a}", url=None, canonical_url=None, source=None, published=None,
            author=None, content_hash=f"{collection}-{a}",
            paragraphs=tuple(PreparedParagraph(t, (Sentence(0, len(t)),)) for t in texts),
            chunks=tuple(Chunk(p, 0, len(t), t) for p, t in enumerate(texts)))
        core.storage.put_article(collection, f"a{a}", prepared,
                                 vectors[a * paragraphs:(a + 1) * paragraphs])
    return vectors


def _recall(core: Core, collection: str, vectors: np.ndarray, queries: np.ndarray,
            paragraphs: int = 100) -> float:
    """Recall@10 of the store's dense search against exact search."""
    hits = 0
    for q in queries:
        exact = set(np.argsort(-(vectors @ q))[:10].tolist())
        found = core.storage.dense_search(collection, q, 10)
        passages = core.storage.passages(collection, [h.paragraph for h in found])
        hits += len(exact & {int(passages[h.paragraph].article.id[1:]) * paragraphs
                             + passages[h.paragraph].number - 1 for h in found})
    return hits / (10 * len(queries))


def test_both_backends_rank_alike(settings: Settings, pg_settings: Settings,
                                  tmp_path: Path) -> None:
    """Same articles, same questions: the same articles, lexical (BM25) ranking and scores,
    and first quotes, on the embedded store and on PostgreSQL."""
    cores = [Core.open(s, embedder=HashEmbedder()) for s in (settings, pg_settings)]
    try:
        for core in cores:
            fill(core, "news", 60, SEED)
        assert state(cores[0], "news") == state(cores[1], "news")
        rng = random.Random(SEED)
        for _ in range(20):
            question = " ".join(rng.sample(make_article(rng)[1].split(), 6))
            ranked = []
            for core in cores:
                hits = core.storage.lexical_search("news", question, 30)
                found = core.storage.passages("news", [h.paragraph for h in hits])
                ranked.append([(found[h.paragraph].article.id, found[h.paragraph].number,
                                round(h.score, 6)) for h in hits])
            assert ranked[0] == ranked[1], question
            answers = [core.ask("news", question) for core in cores]
            # the first quote: the vector index is approximate, so a later quote
            # may come from a paragraph only one of the dense searches found
            firsts = [[q.text for q in a.quotes[:1]] for a in answers]
            assert firsts[0] == firsts[1], question
    finally:
        for core in cores:
            core.close()


# -- writers ------------------------------------------------------------------------------
def test_an_article_added_meanwhile_under_another_id_is_replaced_not_duplicated(
        pg_url: str, pg_core: Core) -> None:
    """Two processes both found nothing, embedded, then store the same story under two ids:
    the second store replaces the first (the re-check runs in the writer's turn)."""
    from index.ingest.prepare import prepare

    storage = pg_core.storage
    prepared = prepare(title="Ferries", text="The harbor ferries stop at noon.",
                       url="https://news.example/ferries", source=None, published=None,
                       author=None, count_tokens=len, max_tokens=64)
    vectors = pg_core.embedder.embed([c.text for c in prepared.chunks])
    first = storage.put_article("news", "one", prepared, vectors)
    second = storage.put_article("news", "two", prepared, vectors)
    assert first.id == second.id == "one"
    assert len(storage.list_articles("news")) == 1 and pg_problems(pg_url) == []


def test_one_rebuild_per_collection_and_questions_never_wait_for_writers(
        pg_url: str, pg_core: Core) -> None:
    fill(pg_core, "news", 5, SEED)
    storage = pg_core.storage
    with psycopg.connect(pg_url, autocommit=True) as other:  # another process rebuilding
        other.execute("SELECT pg_advisory_lock(hashtextextended('citebot:rebuild:' || "
                      "'news', 0))")
        with pytest.raises(StorageError, match="Another process is rebuilding"):
            pg_core.rebuild("news")
        other.execute("SELECT pg_advisory_unlock_all()")
        with other.transaction():  # a writer in the middle of its change
            other.execute("SELECT 1 FROM collections WHERE collection = 'news' FOR UPDATE")
            other.execute("DELETE FROM articles WHERE collection = 'news'")
            answered: list[object] = []
            asker = threading.Thread(target=lambda: answered.append(
                (pg_core.ask("news", "harbor council budget"),
                 storage.list_articles("news"))))
            asker.start()
            asker.join(timeout=60)
            assert answered, "a question waited for a writer"
            answer, articles = answered[0]  # type: ignore[misc]
            assert len(articles) == 5 and answer.passages  # nothing uncommitted was seen
            raise psycopg.Rollback()  # the writer gives up
    assert pg_core.rebuild("news") == pg_core.stats("news").chunks
    assert pg_problems(pg_url) == []
