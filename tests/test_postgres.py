"""The PostgreSQL backend's own behaviour, on a real PostgreSQL with pgvector (tests/postgres.py):
migrations, filtered HNSW search, BM25 ranking alike on both backends, reads from a streaming
replica, and many processes at once (adds, rebuilds, kill -9). The behaviour both backends
share is tested on both by the storage and feed tests (``any_core``)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr

from config.settings import Settings
from index.errors import SchemaError, StorageError
from retrieval.core import Core
from tests.fakes import HashEmbedder
from tests.pg_checks import pg_problems
from tests.postgres import PostgresServer, Replica
from tests.storage_checks import SEED, make_article, state

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    return postgres_server.new_database()


@pytest.fixture
def pg_settings(settings: Settings, pg_url: str) -> Settings:
    return settings.model_copy(update={"database_url": SecretStr(pg_url)})


@pytest.fixture
def pg_core(pg_settings: Settings) -> Iterator[Core]:
    core = Core.open(pg_settings, embedder=HashEmbedder())
    yield core
    core.close()


def fill(core: Core, collection: str, count: int, seed: int, paragraphs: int | None = None
         ) -> None:
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        title, text = make_article(rng, paragraphs)
        lines.append(json.dumps({"id": f"{collection}-{i}", "title": title, "text": text}))
    for item in core.indexer.add_jsonl(collection, lines):
        assert item.result is not None, item.error


# -- migrations ---------------------------------------------------------------------------
def test_migrations_are_versioned_idempotent_and_a_newer_schema_is_refused(
        pg_url: str, pg_settings: Settings, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from index.store.postgres import migrate, schema_status
    from index.store.postgres.migrations import LATEST

    assert schema_status(pg_url).version == 0 and schema_status(pg_url).pending
    monkeypatch.setenv("CITEBOT_DATABASE_URL", pg_url)
    code, out, _ = cli("db", "status")
    assert code == 0 and "version 0; pending: 1" in out and "citebot db migrate" in out
    code, out, _ = cli("db", "migrate")
    assert code == 0 and "applied migration 1" in out and "applied migration 2" in out
    assert migrate(pg_url) == [] and schema_status(pg_url).version == LATEST
    code, out, _ = cli("db", "status")
    assert code == 0 and "up to date" in out

    with psycopg.connect(pg_url, autocommit=True) as db:  # a newer citebot migrated it
        db.execute("INSERT INTO schema_migrations(version, name) VALUES (%s, 'later')",
                   (LATEST + 1,))
    with pytest.raises(SchemaError, match="newer than this citebot understands"):
        Core.open(pg_settings, embedder=HashEmbedder())
    code, _, err = cli("stats")
    assert code == 1 and "Upgrade citebot" in err and pg_url not in err
    code, out, _ = cli("db", "status")
    assert code == 1 and "upgrade citebot" in out
    with pytest.raises(SchemaError):
        migrate(pg_url)


def test_db_commands_without_a_database_say_what_to_do(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("db", "status")
    assert code == 1 and "CITEBOT_DATABASE_URL is not set" in err


def test_an_unreachable_database_is_a_clear_error_naming_no_password(
        settings: Settings, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from tests.postgres import free_port

    url = f"postgresql://citebot:s3cret@127.0.0.1:{free_port()}/citebot"
    monkeypatch.setenv("CITEBOT_DATABASE_URL", url)
    code, _, err = cli("stats")
    assert code == 1 and "cannot be reached" in err and "s3cret" not in err


# -- search -------------------------------------------------------------------------------
def test_a_filtered_hnsw_search_returns_k_rows(pg_core: Core, pg_url: str) -> None:
    """A small collection beside a large one, searched through the HNSW index: the scan goes
    on (iterative scan) until it has k rows of the collection asked, where a plain HNSW scan
    stops after ef_search candidates, most of them the large collection's."""
    from pgvector.psycopg import register_vector

    from index.store.postgres import search

    fill(pg_core, "large", 150, SEED, paragraphs=4)
    fill(pg_core, "small", 15, SEED + 1, paragraphs=2)
    query = pg_core.embedder.embed_query("harbor council budget")
    with psycopg.connect(pg_url, autocommit=True) as db:
        register_vector(db)
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            db.execute(f"SET {setting} = off")  # as on a large table: the index, not a sort
        plan = " ".join(r[0] for r in db.execute(
            "EXPLAIN SELECT paragraph_id FROM chunks WHERE collection = 'small' AND live AND "
            "vector_dims(embedding) = 64 ORDER BY embedding::vector(64) <=> "
            "array_fill(0.1, ARRAY[64])::vector(64) LIMIT 40"))
        assert "chunks_hnsw_64" in plan
        pids, _ = search.nearest(db, "small", query, 20, 64)
    assert len(pids) == 20  # of the small collection's 30
    small = pg_core.storage.passages("small", pids.tolist())
    assert set(small) == set(pids.tolist())  # only the collection asked
    assert len(pg_core.storage.dense_search("small", query, 10)) == 10


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
            # the first quote: HNSW is approximate (recall@10 about 0.99), so a later quote
            # may come from a paragraph only one of the dense searches found
            firsts = [[q.text for q in a.quotes[:1]] for a in answers]
            assert firsts[0] == firsts[1], question
    finally:
        for core in cores:
            core.close()


# -- replicas -----------------------------------------------------------------------------
@pytest.fixture
def replica(postgres_server: PostgresServer) -> Iterator[Replica]:
    made = Replica(postgres_server)
    made.start()
    yield made
    made.stop()


def test_reads_go_to_the_replica_and_a_writer_reads_its_own_writes(
        pg_settings: Settings, pg_url: str, replica: Replica) -> None:
    database = conninfo_to_dict(pg_url)["dbname"]
    Core.open(pg_settings, embedder=HashEmbedder()).close()  # migrate before the replica reads
    replica.wait_ready(database)
    read_url = replica.url(database)
    on_replica = pg_settings.model_copy(update={
        "database_read_url": SecretStr(read_url), "database_replica_wait_s": 0.3})
    writer = Core.open(on_replica, embedder=HashEmbedder())
    other = Core.open(on_replica, embedder=HashEmbedder())
    try:
        writer.indexer.add_text("news", title="Ferries", text="The harbor ferries stop at noon.")
        assert writer.ask("news", "when do the ferries stop?").quotes  # waited for the replay
        with writer.storage.db.read("news") as db:  # type: ignore[attr-defined]
            assert db.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        assert other.storage.list_articles("news")

        with psycopg.connect(read_url, autocommit=True) as db:
            db.execute("SELECT pg_wal_replay_pause()")  # the replica falls behind
            writer.indexer.add_text("news", title="Tolls",
                                    text="Bridge tolls are waived for six months.")
            answer = writer.ask("news", "are the bridge tolls waived?")
            assert any("waived" in q.text for q in answer.quotes)  # from the primary
            assert len(other.storage.list_articles("news")) == 1  # others read the replica
            db.execute("SELECT pg_wal_replay_resume()")
        assert len(writer.storage.list_articles("news")) == 2
    finally:
        writer.close()
        other.close()


def test_a_replica_that_cannot_be_reached_sends_reads_to_the_primary(
        pg_settings: Settings) -> None:
    from tests.postgres import free_port

    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(StorageError, match="replica database"):
        Core.open(pg_settings.model_copy(update={"database_read_url": SecretStr(dead)}),
                  embedder=HashEmbedder())


def test_a_replica_that_dies_while_running_sends_reads_to_the_primary_and_back(
        pg_settings: Settings, pg_url: str, replica: Replica) -> None:
    database = conninfo_to_dict(pg_url)["dbname"]
    Core.open(pg_settings, embedder=HashEmbedder()).close()  # migrate before the replica reads
    replica.wait_ready(database)
    core = Core.open(pg_settings.model_copy(update={
        "database_read_url": SecretStr(replica.url(database))}), embedder=HashEmbedder())
    core.storage.db.replica_recheck_s = 0.2  # type: ignore[attr-defined]
    try:
        core.indexer.add_text("news", title="Ferries", text="The harbor ferries stop at noon.")
        assert core.ask("news", "when do the ferries stop?").quotes
        replica.halt()
        for _ in range(3):  # every read, not only the first after the failure
            assert core.ask("news", "when do the ferries stop?").quotes  # from the primary
            assert len(core.storage.list_articles("news")) == 1
        replica.resume()
        replica.wait_ready(database)
        for _ in range(300):  # bounded: the replica is tried again after its recheck interval
            with core.storage.db.read("news") as db:  # type: ignore[attr-defined]
                if db.execute("SELECT pg_is_in_recovery()").fetchone() == (True,):
                    break
            time.sleep(0.1)
        else:
            pytest.fail("reads never went back to the replica")
        assert core.ask("news", "when do the ferries stop?").quotes
    finally:
        core.close()


# -- many processes -----------------------------------------------------------------------
def _spawn(url: str, go: Path, *args: str) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.pg_worker", url, str(go), *args], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert worker.stdout is not None
    assert json.loads(worker.stdout.readline()) == {"ready": True}, worker.stderr
    return worker


def test_concurrent_adds_from_several_processes_never_duplicate(
        pg_url: str, pg_core: Core, tmp_path: Path) -> None:
    """Four processes add the same 15 articles (by content) under ids of their own, at once:
    one copy of each, and every count BM25 reads agrees with the rows."""
    go = tmp_path / "go"
    workers = [_spawn(pg_url, go, "add", "news", str(SEED), "15") for _ in range(4)]
    go.touch()
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
    assert len(pg_core.storage.list_articles("news", limit=-1)) == 15
    assert pg_problems(pg_url) == []


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


def test_a_rebuild_killed_half_way_loses_nothing(pg_url: str, pg_core: Core,
                                                 tmp_path: Path) -> None:
    fill(pg_core, "news", 30, SEED)
    before = state(pg_core, "news")
    go = tmp_path / "go"
    worker = _spawn(pg_url, go, "rebuild", "news")
    go.touch()
    assert worker.stdout is not None
    for line in worker.stdout:  # kill -9 once it has staged some articles
        if json.loads(line).get("done") == 10:
            break
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=60)
    assert pg_problems(pg_url, allow_staged=True) == []
    assert state(pg_core, "news") == before  # staged rows are never searched
    assert pg_core.rebuild("news") == pg_core.stats("news").chunks  # the lock died with it
    assert pg_problems(pg_url) == [] and state(pg_core, "news") == before


def test_adds_killed_mid_way_leave_whole_articles_only(pg_url: str, pg_core: Core,
                                                       tmp_path: Path) -> None:
    go = tmp_path / "go"
    worker = _spawn(pg_url, go, "add", "news", str(SEED), "200")
    go.touch()
    assert worker.stdout is not None
    for count, _ in enumerate(worker.stdout):
        if count == 20:
            break
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=60)
    added = len(pg_core.storage.list_articles("news", limit=-1))
    assert 20 <= added < 200 and pg_problems(pg_url) == []


def test_a_remove_killed_mid_way_loses_nothing(pg_url: str, pg_core: Core,
                                              tmp_path: Path) -> None:
    """kill -9 while a process removes articles, one of the removals held inside its
    transaction (its article's row locked here): the removals done stay done, the one
    interrupted changed nothing, and every count BM25 reads agrees with the rows."""
    fill(pg_core, "news", 10, SEED)
    order = [a.id for a in pg_core.articles("news", limit=-1)]
    before = state(pg_core, "news")
    go = tmp_path / "go"
    with psycopg.connect(pg_url) as holder:
        holder.execute("SELECT 1 FROM articles WHERE collection = 'news' AND id = %s FOR "
                       "UPDATE", (order[3],))
        worker = _spawn(pg_url, go, "remove", "news")
        go.touch()
        assert worker.stdout is not None
        removed = [json.loads(worker.stdout.readline())["removed"] for _ in range(3)]
        with psycopg.connect(pg_url, autocommit=True) as watch:
            for _ in range(600):  # bounded: until the fourth removal waits on our lock
                row = watch.execute("SELECT count(*) FROM pg_stat_activity WHERE "
                                    "wait_event_type = 'Lock' AND datname = current_database()"
                                    ).fetchone()
                if row and row[0]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the fourth removal never reached the article's row")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=60)
        holder.rollback()
    assert removed == order[:3]
    left = [a.id for a in pg_core.articles("news", limit=-1)]
    assert left == order[3:] and pg_problems(pg_url) == []
    for article_id in left:
        pg_core.remove("news", article_id)
    stats = pg_core.stats("news")
    assert pg_problems(pg_url) == [] and (stats.articles, stats.paragraphs, stats.chunks) == (0, 0, 0)
    assert before != state(pg_core, "news")


def test_a_primary_restarted_under_load_loses_nothing_and_duplicates_nothing(
        postgres_server: PostgresServer, pg_url: str, pg_core: Core, tmp_path: Path) -> None:
    """A bulk add from another process while the server restarts: each line is added or
    reported as failed (nothing silently lost), and adding the failed ones again leaves
    one copy of each."""
    go = tmp_path / "go"
    worker = _spawn(pg_url, go, "add", "news", str(SEED), "60")
    go.touch()
    assert worker.stdout is not None
    lines = [json.loads(worker.stdout.readline()) for _ in range(10)]
    postgres_server.run("pg_ctl", "-w", "-D", str(postgres_server.data), "-m", "fast", "-l",
                        str(postgres_server.data / "restart.log"), "restart")
    rest, err = worker.communicate(timeout=300)
    assert worker.returncode == 0, err
    lines += [json.loads(line) for line in rest.splitlines()]
    added = {line["id"] for line in lines if "id" in line}
    failed = [line for line in lines if "error" in line]
    assert len(added) + len(failed) == 60
    stored = {a.id for a in pg_core.storage.list_articles("news", limit=-1)}
    assert added <= stored and pg_problems(pg_url) == []
    again = _spawn(pg_url, go, "add", "news", str(SEED), "60")  # the same stories again
    again.communicate(timeout=300)
    assert len(pg_core.storage.list_articles("news", limit=-1)) == 60
    assert pg_problems(pg_url) == []


def test_a_database_an_older_citebot_migrated_is_brought_up_to_date_on_open(
        pg_url: str, pg_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from index.store import Turn
    from index.store.postgres import migrations, schema_status

    with monkeypatch.context() as older:  # a citebot that knew only the first migration
        older.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
        older.setattr(migrations, "LATEST", 1)
        assert [m.version for m in migrations.migrate(psycopg.connect(pg_url, autocommit=True))
                ] == [1]
    core = Core.open(pg_settings, embedder=HashEmbedder())
    try:
        assert schema_status(pg_url).version == migrations.LATEST == 3
        core.storage.append_turn("guild", "c", Turn("q", "q", None, (), (), "", 1.0),
                                 max_turns=3)
        assert core.storage.conversation("guild", "c") is not None
    finally:
        core.close()


def test_processes_starting_together_on_a_new_database_all_open_it(
    postgres_server: PostgresServer,
) -> None:
    """Shard processes start at once: the schema and the vector index are made once, and
    every process opens the database (none fails on the other's half-made index)."""
    from index.store.postgres.storage import prepare

    for _ in range(5):
        url = postgres_server.new_database()
        start = threading.Barrier(4)
        errors: list[BaseException] = []

        def open_it(url: str = url, start: threading.Barrier = start,
                    errors: list[BaseException] = errors) -> None:
            start.wait()
            try:
                prepare(url, migrate=True, dim=384)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
