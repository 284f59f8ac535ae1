"""Reads from a streaming replica of the test server (`pg_basebackup -R`): a writer reads its
own writes, and a replica that cannot be reached, or dies, sends reads to the primary."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr

from config.settings import Settings
from index.errors import StorageError
from retrieval.core import Core
from tests.fakes import HashEmbedder
from tests.postgres import PostgresServer, Replica


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
