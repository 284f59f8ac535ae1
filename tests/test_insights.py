"""Insights, on both backends (``any_core``): off by default; questions answered "not found"
and 👎'd answers kept only while a collection has them on, never with a member's id; a
down-voted answer counted once; the retention; turning off deletes; nothing of one
collection reaches another; an older database upgrades (both backends)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from config.settings import Settings
from index.errors import StorageError
from index.store.protocol import Vote
from index.store.values import DAY_S
from retrieval.core import Core
from retrieval.insights import InsightsOptionError
from tests.conftest import ARTICLE
from tests.fakes import HashEmbedder

MEMBER = "930000000000000777"  # a member's id: must never reach the insight rows
GONE = "What did the harbor master say about dredging?"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def core(any_settings: Settings) -> Iterator[Core]:
    """A core on which every answer is "not found" (a threshold no answer reaches), with a
    clock the test moves."""
    settings = any_settings.model_copy(update={"min_score": 2.0})
    with Core.open(settings, embedder=HashEmbedder()) as opened:
        opened.insights.clock = Clock()
        title, _, text = ARTICLE.partition("\n")
        opened.indexer.add_text("default", title=title, text=text)
        yield opened


def clock(core: Core) -> Clock:
    assert isinstance(core.insights.clock, Clock)
    return core.insights.clock


def down(core: Core, answer_id: str, user: str = MEMBER, question: str = GONE,
         collection: str = "default", vote: int = -1) -> None:
    core.vote(Vote(collection, answer_id, user, question, (), vote))


def insight_rows(core: Core) -> list[tuple[object, ...]]:
    """Every row and column name of the insight tables, whichever the backend."""
    tables = ("insight_switches", "insight_questions")
    url = core.settings.database_url
    if url is None:
        with sqlite3.connect(core.settings.data_dir / "citebot.sqlite3") as db:
            rows = [(t, *r) for t in tables for r in db.execute(f"SELECT * FROM {t}")]
            names = [(t, r[1]) for t in tables for r in db.execute(f"PRAGMA table_info({t})")]
        return rows + names
    import psycopg

    with psycopg.connect(url.get_secret_value()) as pg:
        rows = [(t, *r) for t in tables for r in pg.execute(f"SELECT * FROM {t}")]
        names = [(t, r[0]) for t in tables for r in pg.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
            (t,))]
    return rows + names


def test_off_by_default_nothing_is_kept(core: Core) -> None:
    assert not core.ask("default", GONE).found
    down(core, "m1")
    report = core.insights_report("default")
    assert report.switch is None and report.gaps == () and report.questions == 0
    assert [r for r in insight_rows(core) if r[0] == "insight_questions" and len(r) > 2] == []


def test_unanswered_and_voted_down_questions_are_kept_without_member_ids(core: Core) -> None:
    switch = core.enable_insights("default", 30)
    assert switch.retention_days == 30
    for _ in range(2):
        assert not core.ask("default", GONE).found
    down(core, "m1")
    down(core, "m1", user="930000000000000888")  # another member, the same answer: once
    down(core, "m1")  # the same member again
    down(core, "m2", question="Who pays for the ferry?", vote=1)  # 👍: not kept
    report = core.insights_report("default")
    assert report.questions == 3
    (gap,) = report.gaps
    assert (gap.question, gap.count, gap.kinds) == (GONE, 3, {"not_found": 2, "voted_down": 1})
    assert gap.last_at == clock(core).now
    text = repr(insight_rows(core))
    assert MEMBER not in text and "930000000000000888" not in text
    assert "user" not in text and "member" not in text and "author" not in text


def test_one_collection_never_sees_anothers_questions(core: Core) -> None:
    core.enable_insights("default")
    core.ask("default", GONE)
    down(core, "m1", collection="other")  # off there: not kept
    assert core.insights_report("other").gaps == ()
    core.enable_insights("other")
    down(core, "m1", collection="other", question="When does the pool reopen?")
    assert [g.question for g in core.insights_report("other").gaps] == [
        "When does the pool reopen?"]
    assert [g.question for g in core.insights_report("default").gaps] == [GONE]
    core.disable_insights("other")
    assert [g.question for g in core.insights_report("default").gaps] == [GONE]


def test_questions_older_than_the_retention_are_deleted(core: Core) -> None:
    core.enable_insights("default", 3)
    core.ask("default", GONE)
    clock(core).now += 2 * DAY_S
    core.ask("default", "Who pays for the ferry?")
    assert core.insights_report("default", days=3).questions == 2
    assert core.insights_report("default", days=1).questions == 1  # only the last day's
    clock(core).now += 1.5 * DAY_S  # the first is past the retention: deleted on reading
    assert [g.question for g in core.insights_report("default", days=30).gaps] == [
        "Who pays for the ferry?"]
    rows = [r for r in insight_rows(core) if r[0] == "insight_questions" and len(r) > 2]
    assert len(rows) == 1
    core.enable_insights("default", 1)  # a shorter retention deletes what is older at once
    assert [r for r in insight_rows(core) if r[0] == "insight_questions" and len(r) > 2] == []


def test_turning_off_deletes_what_was_kept_and_keeps_nothing_more(core: Core) -> None:
    core.enable_insights("default")
    core.ask("default", GONE)
    down(core, "m1")
    assert core.disable_insights("default") == 2
    core.ask("default", GONE)
    down(core, "m3")
    assert [r for r in insight_rows(core) if r[0] == "insight_questions" and len(r) > 2] == []
    assert core.insights_report("default").switch is None
    core.enable_insights("default")  # on again: starts empty
    assert core.insights_report("default").questions == 0


def test_a_retention_or_days_out_of_range_says_what_is_accepted(core: Core) -> None:
    with pytest.raises(InsightsOptionError, match="between 1 and 365 days"):
        core.enable_insights("default", 0)
    core.enable_insights("default")
    with pytest.raises(InsightsOptionError, match="between 1 and 365 days"):
        core.insights_report("default", days=1000)


def test_an_embedded_store_of_the_previous_schema_upgrades(settings: Settings) -> None:
    from index.store.embedded import sqlite_migrations

    Core.open(settings, embedder=HashEmbedder()).close()
    path = settings.data_dir / "citebot.sqlite3"
    step = sqlite_migrations.MIGRATIONS[-1]
    with sqlite3.connect(path) as db:  # as the citebot before insights left it
        db.execute("DROP TABLE insight_questions")
        db.execute("DROP TABLE insight_switches")
        db.execute("DELETE FROM schema_migrations WHERE version = ?", (step.version,))
    with Core.open(settings, embedder=HashEmbedder()) as core:
        core.enable_insights("default")
        assert core.insights_report("default").switch is not None
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM schema_migrations WHERE version = ?",
                          (step.version,)).fetchone() == (step.name,)


def test_a_postgres_database_of_the_previous_schema_upgrades(
        settings: Settings, postgres_server) -> None:  # type: ignore[no-untyped-def]
    import psycopg
    from pydantic import SecretStr

    from index.store.postgres import migrations

    url = postgres_server.new_database()
    with psycopg.connect(url, autocommit=True) as db:  # as the citebot before insights left it
        db.execute("CREATE TABLE schema_migrations(version integer PRIMARY KEY, name text NOT "
                   "NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        for step in [m for m in migrations.MIGRATIONS if m.version < 4]:  # before insights
            db.execute(step.sql)
            db.execute("INSERT INTO schema_migrations(version, name) VALUES (%s, %s)",
                       (step.version, step.name))
    pg = settings.model_copy(update={"database_url": SecretStr(url)})
    with Core.open(pg, embedder=HashEmbedder()) as core:
        core.enable_insights("default")
        assert core.insights_report("default").switch is not None
    with psycopg.connect(url) as db:
        assert db.execute("SELECT max(version) FROM schema_migrations").fetchone() == (
            migrations.LATEST,)


def test_a_mention_in_a_question_keeps_no_member_id(core: Core) -> None:
    core.enable_insights("default")
    core.ask("default", f"What did <@{MEMBER}> say about dredging?")
    down(core, "m1", question=f"What did <@!{MEMBER}> and <@&{MEMBER}1> say?")
    assert MEMBER not in repr(insight_rows(core))
    assert sorted(g.question for g in core.insights_report("default").gaps) == [
        "What did @someone and @someone say?", "What did @someone say about dredging?"]


def test_a_down_vote_taken_back_is_no_longer_kept(core: Core) -> None:
    core.enable_insights("default")
    down(core, "m1")
    down(core, "m1", user="930000000000000888")
    down(core, "m1", vote=1)  # one changes their mind: another still votes it down
    assert core.insights_report("default").questions == 1
    down(core, "m1", user="930000000000000888", vote=1)  # the last 👎 taken back
    assert core.insights_report("default").questions == 0
    down(core, "m1")  # voted down again: kept again
    assert core.insights_report("default").questions == 1


def test_a_failure_to_keep_a_question_never_costs_the_answer_or_the_vote(
        core: Core, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    core.enable_insights("default")

    def broken(*args: object, **kwargs: object) -> bool:
        raise StorageError("Could not keep the question for insights (disk full).")

    monkeypatch.setattr(core.storage, "keep_question", broken)
    with caplog.at_level("WARNING"):
        answer = core.ask("default", GONE)
        down(core, "m1")
    assert not answer.found and answer.question == GONE
    assert core.insights_report("default").questions == 0
    warnings = [r.getMessage() for r in caplog.records if "insights" in r.getMessage()]
    assert len(warnings) == 2 and all("disk full" in w for w in warnings), warnings


def test_processes_sharing_a_database_see_the_switch_at_once(any_settings: Settings) -> None:
    """An admin's change in one process holds in every other at its next question: the
    switch is read, never cached."""
    settings = any_settings.model_copy(update={"min_score": 2.0})
    with Core.open(settings, embedder=HashEmbedder()) as admin, \
            Core.open(settings, embedder=HashEmbedder()) as bot:
        bot.ask("default", GONE)
        admin.enable_insights("default")
        bot.ask("default", GONE)
        assert admin.insights_report("default").questions == 1
        admin.disable_insights("default")
        bot.ask("default", GONE)
        down(bot, "m1")
        admin.enable_insights("default")
        assert admin.insights_report("default").questions == 0
