"""PostgreSQL failures name their cause: a missing database, a URL of another scheme, data over
PostgreSQL's limits (which SQLite accepts), a server that stops during a bulk add. Through the
command line, on a real PostgreSQL (tests/postgres.py), and on both backends where the
embedded store is the measure."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from pydantic import SecretStr

from config.settings import Settings
from index.errors import StorageError
from retrieval.core import Core
from tests.conftest import on_backend
from tests.fakes import HashEmbedder
from tests.postgres import PostgresServer, own_server

STORY = ("The harbor council approved the ferry budget on Monday after a long debate.\n\n"
         "Councillors said the new ferry would carry four hundred passengers a day.")


def jsonl(tmp_path: Path, *records: dict[str, object]) -> str:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def test_a_missing_database_is_named_with_how_to_create_it(
        postgres_server: PostgresServer, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    url = postgres_server.url("nosuchdb")
    monkeypatch.setenv("CITEBOT_DATABASE_URL", url)
    for args in (("stats",), ("db", "status"), ("db", "migrate")):
        code, _, err = cli(*args)
        assert code == 1 and "cannot be reached" not in err, (args, err)
        assert "'nosuchdb' does not exist" in err and "CREATE DATABASE" in err, err


@pytest.mark.parametrize("url", ["mysql://citebot:s3cret@127.0.0.1/citebot",
                                 "sqlite:///citebot.db", "citebot:s3cret@127.0.0.1/citebot"])
def test_a_url_that_is_not_postgresql_is_named(
        url: str, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CITEBOT_DATABASE_URL", url)
    for args in (("stats",), ("db", "status")):
        code, _, err = cli(*args)
        # refused with the other settings, before any connection (exit 2, as every setting)
        assert code == 2 and "cannot be reached" not in err and "s3cret" not in err, err
        assert "starts with postgresql://" in err, err


def _both(settings: Settings, request: pytest.FixtureRequest) -> Iterator[tuple[str, Core]]:
    for backend in ("embedded", "postgres"):
        on = on_backend(settings.model_copy(update={"data_dir": settings.data_dir / backend}),
                        backend, request)
        with Core.open(on, embedder=HashEmbedder()) as core:
            yield backend, core


def test_over_long_names_are_refused_alike_on_both_backends(
        settings: Settings, request: pytest.FixtureRequest) -> None:
    """A 10 KB collection name and a 100 KB conversation id: one clear sentence each, the same
    on both backends (PostgreSQL failed with error 54000, reported as an outage)."""
    said: dict[str, list[str]] = {}
    for backend, core in _both(settings, request):
        errors = said.setdefault(backend, [])
        for attempt in (partial(core.add_text, "c" * 10_000, title="Ferry", text=STORY),
                        partial(core.ask, "default", "ferry?", conversation="k" * 100_000)):
            with pytest.raises(Exception) as caught:
                attempt()
            assert not isinstance(caught.value, StorageError), (backend, caught.value)
            errors.append(str(caught.value))
    assert said["embedded"] == said["postgres"]
    assert "collection name" in said["postgres"][0] and "at most" in said["postgres"][0]
    assert "conversation" in said["postgres"][1] and "at most" in said["postgres"][1]


def test_nul_long_words_and_long_names_through_the_command_line(
        postgres_server: PostgresServer, cli, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CITEBOT_DATABASE_URL", postgres_server.new_database())
    word = "x" * 3_000
    path = jsonl(tmp_path, {"id": "nul", "title": "Ferry\x00 news", "text": "Nul\x00 here. " + STORY,
                            "author": "A\x00B"},
                 {"id": "word", "title": "Long word", "text": f"{word} {STORY} again"})
    code, out, err = cli("add", "--jsonl", path)
    assert code == 0 and "2 added" in out, err
    code, _, err = cli("add", "--collection", "c" * 10_000, "--title", "T", "--text", STORY)
    assert code == 2 and "collection name" in err and "cannot be reached" not in err, err


def test_nul_and_long_words_are_stored_alike_on_both_backends(
        settings: Settings, request: pytest.FixtureRequest) -> None:
    word = "Ж" * 3_000  # 6,000 bytes: over PostgreSQL's limits for a lexeme and an index row
    stored = {}
    for backend, core in _both(settings, request):
        first = core.add_text("default", title="Ferry\x00 news", text="Nul\x00 here. " + STORY)
        second = core.add_text("default", title="Long word", text=f"{word} {STORY} again {word}")
        passages = core.storage.passages("default", list(range(1, 10)))
        stored[backend] = (first.article.title, sorted(p.text for p in passages.values()),
                           second.article.paragraph_count)
        assert core.ask("default", "How many passengers would the ferry carry?").quotes
    assert stored["embedded"] == stored["postgres"]
    assert "\x00" not in repr(stored["postgres"]) and stored["postgres"][0] == "Ferry news"


def test_a_server_stopped_during_a_bulk_add_fails_each_line_fast(
        settings: Settings, tmp_path: Path) -> None:
    """Each line's error comes as it happens, well within the pool's 30 s wait, and says the
    server cannot be reached; once the server is back, the next add uses it."""
    with own_server() as server:
        on = settings.model_copy(update={"database_url": SecretStr(server.new_database())})
        core = Core.open(on, embedder=HashEmbedder())
        lines = [json.dumps({"id": "up", "title": "Ferry", "text": STORY}), "not json"]
        lines += [json.dumps({"id": f"down-{i}", "title": f"Ferry {i}",
                              "text": f"Story {i}. {STORY}"}) for i in range(4)]
        arrived: list[tuple[float, str | None]] = []
        started = time.monotonic()
        try:
            for item in core.add_jsonl("default", lines):
                arrived.append((time.monotonic() - started, item.error))
                if len(arrived) == 1:
                    assert item.error is None, item.error
                    server.stop()
                    started = time.monotonic()
            server.start()  # back: the next add uses it
            (again,) = core.add_jsonl("default", lines[2:3])
            assert again.result is not None and again.result.status == "added", again.error
        finally:
            core.close()
    errors = [e for _, e in arrived[2:]]
    assert len(errors) == 4 and all(e and "cannot be reached" in e for e in errors), errors
    print(f"server down: {len(errors)} lines failed in {arrived[-1][0]:.2f} s")
    assert arrived[-1][0] < 15, arrived  # before: 30 s per line, 120 s in all


def test_a_remaining_data_error_is_a_data_error_not_an_outage(pg_url: str) -> None:
    """What PostgreSQL still refuses (over a limit: 54000; invalid: class 22, or text psycopg
    cannot send) is said to be a refused value, with what it concerns, never an outage."""
    import psycopg

    from bot.discord.explain import explain
    from index.errors import DataRefusedError
    from index.store.postgres.connections import translated

    @translated("store the value", changes=True)
    def run(statement: str, value: str) -> None:
        with psycopg.connect(pg_url, autocommit=True) as db:
            db.execute(statement, (value,))

    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute("CREATE TABLE notes(body text PRIMARY KEY)")
    cases = [("SELECT %s::tsvector", "'" + "x" * 3_000 + "'", "54000: word is too long"),
             ("INSERT INTO notes VALUES (%s)", "a\x00b", "DataError"),
             ("INSERT INTO notes VALUES (%s)", "".join(chr(0x4E00 + i) for i in range(3_000)),
              "PostgreSQL error 54000: index row requires")]
    for statement, value, named in cases:
        with pytest.raises(DataRefusedError) as caught:
            run(statement, value)
        said = str(caught.value)
        assert named in said, said
        assert "longer than PostgreSQL accepts" in said or "refused a value as invalid" in said
        assert "cannot be reached" not in said and value[:20] not in said
        assert (explain(caught.value) or "").startswith("The database refused that.")


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    return postgres_server.new_database()
