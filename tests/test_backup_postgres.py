"""PostgreSQL's backups the documented way (docs/SCALING.md, "Backing up"): `pg_dump -Fc`
while articles are added, `pg_restore` into a new database, which answers the same; and
`citebot backup`/`restore` pointing at those tools instead of copying a data directory."""

from __future__ import annotations

import random
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.cli import main
from config.settings import Settings
from retrieval.core import Core
from tests.fakes import HashEmbedder
from tests.pg_checks import pg_problems
from tests.postgres import PostgresServer
from tests.storage_checks import SEED, make_article, state


def _on(settings: Settings, url: str) -> Settings:
    return settings.model_copy(update={"database_url": SecretStr(url)})


@pytest.fixture
def pg(settings: Settings, postgres_server: PostgresServer) -> Iterator[tuple[Core, str]]:
    url = postgres_server.new_database()
    core = Core.open(_on(settings, url), embedder=HashEmbedder())
    yield core, url
    core.close()


def _tool(server: PostgresServer, name: str, *args: str) -> None:
    done = subprocess.run([str(server.bin / name), *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def test_pg_dump_while_adds_run_restores_into_a_new_database_that_answers_the_same(
        pg: tuple[Core, str], postgres_server: PostgresServer, settings: Settings,
        tmp_path: Path) -> None:
    core, url = pg
    rng = random.Random(SEED)
    for _ in range(15):
        title, text = make_article(rng)
        core.indexer.add_text("news", title=title, text=text)
    stop, added = threading.Event(), [15]

    def adding() -> None:
        more = random.Random(SEED + 1)
        while not stop.is_set():
            title, text = make_article(more)
            core.indexer.add_text("news", title=title, text=text)
            added[0] += 1

    writer = threading.Thread(target=adding)
    writer.start()
    try:
        _tool(postgres_server, "pg_dump", "-Fc", "-d", url, "-f", str(tmp_path / "during.dump"))
    finally:
        stop.set()
        writer.join()
    _tool(postgres_server, "pg_dump", "-Fc", "-d", url, "-f", str(tmp_path / "after.dump"))
    for dump in ("during", "after"):
        restored = postgres_server.new_database()
        _tool(postgres_server, "pg_restore", "--no-owner", "-d", restored,
              str(tmp_path / f"{dump}.dump"))
        with Core.open(_on(settings, restored), embedder=HashEmbedder()) as back:
            assert pg_problems(restored) == []
            held = back.stats("news").articles
            assert 15 <= held <= added[0]
            if dump == "after":
                assert held == added[0]
                assert state(back, "news") == state(core, "news")


def test_backup_and_restore_name_postgres_tools_when_a_database_is_set(
        pg: tuple[Core, str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CITEBOT_DATABASE_URL", pg[1])
    for args in (["backup", str(tmp_path / "b")], ["restore", str(tmp_path / "b")]):
        assert main(args, embedder=HashEmbedder()) == 1
        err = capsys.readouterr().err
        assert "pg_dump -Fc" in err and "docs/SCALING.md" in err, err
        assert not (tmp_path / "b").exists()
