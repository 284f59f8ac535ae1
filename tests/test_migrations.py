"""The embedded store's schema upgrades: numbered steps, each applied once, recorded in the
database; a data directory from the first released schema opens and answers; a database
from a newer citebot is refused with what to do."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.cli import main
from config.settings import Settings
from index.errors import SchemaError
from index.store.embedded import sqlite_migrations
from index.store.embedded.sqlite_store import SQLiteStore
from retrieval.core import Core
from tests.fakes import HashEmbedder

FIRST = Path(__file__).parent / "fixtures" / "first_schema" / "data"


def _versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def _first_schema_copy(tmp_path: Path) -> Settings:
    data = tmp_path / "old"
    shutil.copytree(FIRST, data)
    return Settings(data_dir=data, _env_file=None)  # type: ignore[call-arg]


def test_first_schema_store_upgrades_and_answers(tmp_path: Path) -> None:
    settings = _first_schema_copy(tmp_path)
    with Core.open(settings, embedder=HashEmbedder()) as core:
        assert core.stats("default").articles == 2
        hits = core.storage.lexical_search("default", "federal resilience grant", 5)
        assert hits, "the first schema's passages are found by lexical search"
        top = core.storage.passages("default", [hits[0].paragraph])[hits[0].paragraph]
        assert "federal resilience grant" in top.text
        answer = core.ask("default", "What did Ortiz say about a federal resilience grant?")
        assert any("resilience grant" in q.text for q in answer.quotes)
        removed = core.remove("default", core.articles("default")[0].id)  # old trigger gone
        assert core.stats("default").articles == 1, removed
    db_path = settings.data_dir / "citebot.sqlite3"
    assert _versions(db_path) == [m.version for m in sqlite_migrations.MIGRATIONS]
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT count(*) FROM feedback WHERE answer_id IS NULL").fetchone() == (1,)
        assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'paragraphs_fts'"
                              ).fetchone()


def test_each_step_is_applied_once_when_processes_open_together(tmp_path: Path) -> None:
    path = tmp_path / "citebot.sqlite3"
    stores = [SQLiteStore(path, schema=False) for _ in range(4)]
    applied: list[list[sqlite_migrations.Migration]] = []
    threads = [threading.Thread(target=lambda s=s: applied.append(sqlite_migrations.migrate(s)))
               for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert sorted(m.version for steps in applied for m in steps) == [
        m.version for m in sqlite_migrations.MIGRATIONS]
    assert _versions(path) == [m.version for m in sqlite_migrations.MIGRATIONS]
    store = SQLiteStore(path)  # up to date: nothing more is applied
    assert sqlite_migrations.migrate(store) == []
    store.close()


def _from_the_future(settings: Settings) -> None:
    Core.open(settings, embedder=HashEmbedder()).close()
    with sqlite3.connect(settings.data_dir / "citebot.sqlite3") as db:
        db.execute("INSERT INTO schema_migrations(version, name) VALUES (?, 'from the future')",
                   (sqlite_migrations.LATEST + 1,))


def test_a_newer_database_is_refused_with_upgrade_citebot(settings: Settings) -> None:
    _from_the_future(settings)
    with pytest.raises(SchemaError, match="Upgrade citebot"):
        Core.open(settings, embedder=HashEmbedder())


def test_the_cli_says_to_upgrade_citebot(settings: Settings,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _from_the_future(settings)
    assert main(["stats", "--data-dir", str(settings.data_dir)], embedder=HashEmbedder()) == 1
    err = capsys.readouterr().err
    assert "Upgrade citebot" in err and "nothing was changed" in err
    assert len(err.strip().splitlines()) == 1
