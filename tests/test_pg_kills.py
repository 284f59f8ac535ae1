"""Many processes on one PostgreSQL database at once (tests/pg_worker.py), some killed with
kill -9 or cut off by a server restart: adds never duplicate, and a rebuild, an add or a
remove killed half way loses nothing."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import psycopg
import pytest

from retrieval.core import Core
from tests.pg_checks import pg_problems
from tests.pg_support import fill, spawn
from tests.postgres import PostgresServer
from tests.storage_checks import SEED, state


def test_concurrent_adds_from_several_processes_never_duplicate(
        pg_url: str, pg_core: Core, tmp_path: Path) -> None:
    """Four processes add the same 15 articles (by content) under ids of their own, at once:
    one copy of each, and every count BM25 reads agrees with the rows."""
    go = tmp_path / "go"
    workers = [spawn(pg_url, go, "add", "news", str(SEED), "15") for _ in range(4)]
    go.touch()
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
    assert len(pg_core.storage.list_articles("news", limit=-1)) == 15
    assert pg_problems(pg_url) == []


def test_a_rebuild_killed_half_way_loses_nothing(pg_url: str, pg_core: Core,
                                                 tmp_path: Path) -> None:
    fill(pg_core, "news", 30, SEED)
    before = state(pg_core, "news")
    go = tmp_path / "go"
    worker = spawn(pg_url, go, "rebuild", "news")
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
    worker = spawn(pg_url, go, "add", "news", str(SEED), "200")
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
        worker = spawn(pg_url, go, "remove", "news")
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
    worker = spawn(pg_url, go, "add", "news", str(SEED), "60")
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
    again = spawn(pg_url, go, "add", "news", str(SEED), "60")  # the same stories again
    again.communicate(timeout=300)
    assert len(pg_core.storage.list_articles("news", limit=-1)) == 60
    assert pg_problems(pg_url) == []
