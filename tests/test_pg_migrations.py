"""The PostgreSQL schema: numbered migrations applied once (by `citebot db migrate`, or on
open), a newer schema refused, a database an older citebot migrated brought up to date,
processes opening a new database together, and the `db` commands' errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from config.settings import Settings
from index.errors import SchemaError
from retrieval.core import Core
from tests.fakes import HashEmbedder
from tests.postgres import PostgresServer


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
        assert schema_status(pg_url).version == migrations.LATEST == len(migrations.MIGRATIONS)
        core.storage.append_turn("guild", "c", Turn("q", "q", None, (), (), "", 1.0),
                                 max_turns=3)
        assert core.storage.conversation("guild", "c") is not None
    finally:
        core.close()


def test_processes_starting_together_on_a_new_database_all_open_it(
    postgres_server: PostgresServer,
) -> None:
    """Shard processes start at once: the schema is made once, and every process opens the
    database (none fails on the other's half-made tables)."""
    from index.store.postgres.storage import prepare

    for _ in range(5):
        url = postgres_server.new_database()
        start = threading.Barrier(4)
        errors: list[BaseException] = []

        def open_it(url: str = url, start: threading.Barrier = start,
                    errors: list[BaseException] = errors) -> None:
            start.wait()
            try:
                prepare(url, migrate=True)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors


@contextmanager
def _older_code(pg_settings: Settings, monkeypatch: pytest.MonkeyPatch, migrated_to: int,
                **code: object) -> Iterator[Core]:
    """A core on the database as an older citebot opened it: its schema ending at migration
    ``migrated_to``, and its ``lexemes`` functions the given ``code`` (stems and lengths as that
    citebot wrote them)."""
    from index.store.postgres import lexemes, migrations

    with monkeypatch.context() as older:
        older.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:migrated_to])
        older.setattr(migrations, "LATEST", migrated_to)
        for name, value in code.items():
            older.setattr(lexemes, name, value)
        with Core.open(pg_settings, embedder=HashEmbedder()) as core:
            yield core


def test_lexemes_an_older_citebot_stemmed_are_stemmed_again_as_fts5_does(
        pg_url: str, pg_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 23: stems written by a citebot whose Porter was not FTS5's ("possibly" ->
    "possibli", "us" -> "u") are written again by a migration, lexicon and totals recounted,
    so that the stored database scores as FTS5 does too, not only new articles."""
    import snowballstemmer  # type: ignore[import-untyped]

    from index.text import plain
    from tests.test_storage import DAM, lexical_against_fts5

    old = snowballstemmer.stemmer("porter")
    with _older_code(pg_settings, monkeypatch, 4,  # with the stemmer of then
                     porter_stem=lambda w: old.stemWord(plain(w)),
                     write_postings=lambda *a, **k: None) as core:  # no table then
        core.indexer.add_text("default", title="The dam", text=DAM)
        core.indexer.add_text("default", title="Other news", text="The possible US visit.")
    with Core.open(pg_settings, embedder=HashEmbedder()) as core:
        for question, found, expected in lexical_against_fts5(
                core, ("is it possible", "US accord", "archaeology technologies")):
            assert found == pytest.approx(expected, rel=1e-6), question


def test_postings_are_written_for_the_paragraphs_stored_before_them(
        pg_url: str, pg_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 23: BM25 candidates are ranked from the postings of the question's stems. A
    database stored before the postings table gets its postings by a migration, and scores
    as FTS5 does; an article removed takes its postings with it."""
    from tests.test_storage import DAM, lexical_against_fts5

    with _older_code(pg_settings, monkeypatch, 5, write_postings=lambda *a, **k: None) as core:
        core.indexer.add_text("default", title="The dam", text=DAM)
        gone = core.indexer.add_text("default", title="Other news",
                                     text="The possible US visit to the dam.")
    with Core.open(pg_settings, embedder=HashEmbedder()) as core:
        for question, found, expected in lexical_against_fts5(
                core, ("is it possible", "US accord", "archaeology technologies dam")):
            assert found, question
            assert found == pytest.approx(expected, rel=1e-6), question
        core.remove("default", gone.article.id)
    with psycopg.connect(pg_url) as db:
        left = db.execute("SELECT count(*) FROM postings x LEFT JOIN paragraphs p ON "
                          "p.collection = x.collection AND p.id = x.paragraph_id "
                          "WHERE p.id IS NULL").fetchone()
        kept = db.execute("SELECT count(DISTINCT paragraph_id) FROM postings").fetchone()
        paragraphs = db.execute("SELECT count(*) FROM paragraphs").fetchone()
    assert left == (0,) and kept == paragraphs


def test_paragraphs_with_combining_accents_are_stemmed_again(
        pg_url: str, pg_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 23: "Sine\u0301ad" (a combining accent) was stored as two words ("sine", "ad")
    with a length FTS5 does not count; migration 7 stems such paragraphs again, so that the
    stored database scores as FTS5 does."""
    import re

    from tests.test_storage import lexical_against_fts5

    word = re.compile(r"[^\W_]+")
    text = "Sine\u0301ad O'Connor's estate objected. Sine\u0301ad sang in Dublin."
    with _older_code(pg_settings, monkeypatch, 6,  # the code before: the accent splits the word
                     plain=str.lower, token_count=lambda t: len(word.findall(t))) as core:
        core.indexer.add_text("default", title="Music news", text=text)
        core.indexer.add_text("default", title="Other news", text="Dublin was mild.")
    with Core.open(pg_settings, embedder=HashEmbedder()) as core:
        for question, found, expected in lexical_against_fts5(core, ("Sinéad Dublin", "estate")):
            assert found == pytest.approx(expected, rel=1e-6), question


def test_paragraphs_with_characters_fts5_reads_otherwise_are_stemmed_again(
        pg_url: str, pg_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 23: before migration 8, an emoji newer than FTS5's Unicode tables or a
    private-use character split a word on PostgreSQL ("Lakers\U0001f923" was "lakers") and
    was left out of its length; migration 8 stems such paragraphs again, so that the stored
    database scores as FTS5 does."""
    import re

    from tests.test_storage import lexical_against_fts5

    word = re.compile(r"[^\W_]+")
    text = "Fans\U0001f923 cheered the Lakers\U0001f923 win. \U0001f923 The crowd\ue000 sang."
    with _older_code(pg_settings, monkeypatch, 7,  # the code before: Python's word characters
                     fts5_words=word.findall, token_count=lambda t: len(word.findall(t))) as core:
        core.indexer.add_text("default", title="Game night", text=text)
        core.indexer.add_text("default", title="Other news", text="The Lakers win again.")
        stale = list(lexical_against_fts5(core, ("Lakers win", "crowd sang")))
    assert any(found != pytest.approx(expected, rel=1e-6) for _, found, expected in stale)
    with Core.open(pg_settings, embedder=HashEmbedder()) as core:
        for question, found, expected in lexical_against_fts5(core, ("Lakers win", "crowd sang")):
            assert found == pytest.approx(expected, rel=1e-6), question


def test_a_database_searched_by_hnsw_gets_the_trained_index_in_its_place(
        pg_url: str, pg_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 23: a database an older citebot searched by HNSW (which lost recall on
    near-copies of passages) has that index dropped by migration 9, and the IVFFlat index
    trained when it is opened, since it holds more vectors than the approximate threshold."""
    from tests.pg_support import fill

    with _older_code(pg_settings, monkeypatch, 8) as core:
        fill(core, "default", 10, 3, paragraphs=4)
        with psycopg.connect(pg_url, autocommit=True) as db:  # as that citebot's start made it
            db.execute("CREATE INDEX chunks_hnsw_64 ON chunks USING hnsw ((embedding::"
                       "vector(64)) vector_cosine_ops) WITH (m = 16, ef_construction = 128) "
                       "WHERE live AND vector_dims(embedding) = 64")
    small = pg_settings.model_copy(update={"approximate_threshold": 20})
    with Core.open(small, embedder=HashEmbedder()) as core:
        with psycopg.connect(pg_url) as db:
            indexes = sorted(r[0] for r in db.execute(
                "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'chunks\\_%\\_64%'"))
        assert indexes == ["chunks_ivfflat_64_1"]  # 40 // 39 lists; no HNSW left
        assert core.storage.stats("default").index == "ivfflat"
        query = core.embedder.embed_query("harbour council")
        assert len(core.storage.dense_search("default", query, 10)) == 10
