"""Pieces of the operator's kit that need no Discord: when the worker pool counts as stuck,
the endpoint's address, JSON log lines, and the Grafana dashboard against the metrics the bot
exports."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from bot.cli import main
from bot.cli.logs import JsonFormatter
from bot.discord import redact
from bot.discord.feed_loop import FeedLoop
from bot.discord.metrics import Metrics
from bot.discord.work import Worker
from index.errors import StorageError
from index.intake.entries import Taken
from index.intake.poller import PollReport
from tests.fakes import HashEmbedder
from tests.test_bot_support import STEP, make_settings, poll
from tests.test_sharding import FEEDS, FeedCore

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana-dashboard.json"


# -- a stuck worker ---------------------------------------------------------------------------


async def test_a_pool_held_by_work_that_never_returns_is_stuck() -> None:
    now = [0.0]
    worker = Worker(threads=1, per_server=1, clock=lambda: now[0])
    gate = threading.Event()
    held = asyncio.create_task(worker.run("a", gate.wait, STEP))
    await poll(lambda: worker.busy == 1)
    assert worker.stuck_for(60) is None and worker.queued == 0  # busy, nothing waits
    now[0] = 1000.0
    assert worker.stuck_for(60) is None  # one long call (a rebuild) alone is not stuck
    waiting = [asyncio.create_task(worker.run("b", int)),  # waits for the one thread
               asyncio.create_task(worker.run("a", int))]  # waits for a's own slot
    await poll(lambda: worker.queued == 2)
    assert worker.stuck_for(60) is None  # it has only just started waiting
    now[0] = 1061.0
    assert worker.stuck_for(60) == 61.0
    gate.set()
    await asyncio.wait_for(asyncio.gather(held, *waiting), STEP)
    assert worker.queued == 0 and worker.stuck_for(60) is None
    worker.close(STEP)


async def test_queue_depth_counts_calls_cancelled_while_waiting_out() -> None:
    worker = Worker(threads=1, per_server=1)
    gate = threading.Event()
    held = asyncio.create_task(worker.run("a", gate.wait, STEP))
    await poll(lambda: worker.busy == 1)
    waiting = [asyncio.create_task(worker.run("a", int)),
               asyncio.create_task(worker.run("b", int))]
    await poll(lambda: worker.queued == 2)
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    assert worker.queued == 0
    gate.set()
    await asyncio.wait_for(held, STEP)
    worker.close(STEP)


# -- the endpoint's address -------------------------------------------------------------------


@pytest.mark.parametrize(("given", "endpoint"), [
    ("9108", ("127.0.0.1", 9108)),
    (" 0.0.0.0:9108 ", ("0.0.0.0", 9108)),
    ("[::1]:9108", ("::1", 9108)),
    ("", None),
])
def test_metrics_address_is_a_port_or_host_and_port(tmp_path: Path, given: str,
                                                    endpoint: tuple[str, int] | None) -> None:
    assert make_settings(tmp_path, metrics_address=given).metrics_endpoint == endpoint


@pytest.mark.parametrize("given", ["metrics", "127.0.0.1:", "127.0.0.1:70000", ":9108"])
def test_a_bad_metrics_address_says_how_to_write_one(tmp_path: Path, given: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make_settings(tmp_path, metrics_address=given)
    from config.settings import Settings

    said = Settings.describe(caught.value)
    assert said.startswith("CITEBOT_METRICS_ADDRESS: ") and "127.0.0.1:" in said, said
    assert "e.g. CITEBOT_METRICS_ADDRESS=127.0.0.1:9108" in said


# -- JSON log lines ---------------------------------------------------------------------------


def logged_lines(token: str = "") -> tuple[logging.Logger, io.StringIO]:
    """A logger writing JSON lines into a buffer (with the bot's redaction when `token`)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"citebot-test-json-{id(out)}")
    logger.propagate = False
    logger.addHandler(handler)
    if token:
        redact.install(token, logger)
    return logger, out


def test_json_logs_are_one_object_per_record() -> None:
    logger, out = logged_lines()
    logger.warning("feed %d: %s", 7, 'a "quoted"\nsecond line')
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("error in %s", "ask")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == 'feed 7: a "quoted"\nsecond line'
    assert first["level"] == "WARNING" and first["logger"] == logger.name
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["time"])
    assert "exception" not in first
    assert second["message"] == "error in ask" and second["level"] == "ERROR"
    assert second["exception"].startswith("Traceback") and "ValueError: boom" in \
        second["exception"]


def test_json_logs_keep_the_token_out_of_tracebacks() -> None:
    token = "json-canary-token.Qx9"
    logger, out = logged_lines(token)
    try:
        raise RuntimeError(f"refused https://x/webhooks/1/{token}")
    except RuntimeError:
        logger.exception("failed with %s", token)
    line = json.loads(out.getvalue())
    assert token not in out.getvalue()
    assert redact.REDACTED in line["message"] and redact.REDACTED in line["exception"]


# -- the Grafana dashboard --------------------------------------------------------------------


def exported_names() -> set[str]:
    """Every series name the bot exports (counters with _total, histograms' parts)."""
    names = set()
    for family in Metrics().registry.collect():
        for sample in family.samples:
            names.add(sample.name)
    return names


def expressions(node: Any) -> list[str]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(expressions(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(expressions(item))
    return found


def test_every_dashboard_expression_names_metrics_the_bot_exports() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = expressions(dashboard)
    titles = {panel["title"] for panel in dashboard["panels"]}
    assert {"Questions per minute", "Answer latency (p50, p95)", "Not found share",
            "Articles added", "Feed polls and failures", "Gateway reconnects",
            "Queue depth"} <= titles, titles
    exported = exported_names()
    used = set()
    for expr in exprs:
        names = set(re.findall(r"\bcitebot_[a-z_]+", expr))
        assert names, f"an expression names no citebot metric: {expr}"
        assert names <= exported, f"{expr}: {names - exported} not exported"
        used |= names
    assert len(exprs) >= 8
    for name in ("citebot_questions_total", "citebot_questions_not_found_total",
                 "citebot_answer_seconds_bucket", "citebot_gateway_reconnects_total",
                 "citebot_queue_depth", "citebot_feed_poll_failures_total"):
        assert name in used, name


def test_the_command_line_writes_json_lines_when_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # a fresh process: logging goes to stderr
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setenv("CITEBOT_LOG_FORMAT", "json")
    monkeypatch.chdir(tmp_path)
    main(["list", "--data-dir", str(tmp_path / "data")], embedder=HashEmbedder())
    logging.getLogger("bot.discord.feed_loop").warning("feed %d: %s", 3, "gone")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert lines, "no JSON line on standard error"
    record = json.loads(lines[-1])
    assert record["level"] == "WARNING" and record["logger"] == "bot.discord.feed_loop"
    assert record["message"] == "feed 3: gone"


# -- feed polls -------------------------------------------------------------------------------


class FailingFeedCore(FeedCore):
    """Feed 1 polls with new articles, feed 2 fails as a feed does, feed 3's poll raises."""

    def poll_feed(self, feed_id: int, *, force: bool = False) -> PollReport:
        self.polled.append(feed_id)
        feed = self.feeds[feed_id]
        if feed_id == 3:
            raise StorageError("the data directory cannot be written")
        if feed_id == 2:
            return PollReport(feed, "failed", error="HTTP 500")
        return PollReport(feed, "new", (Taken("https://a.example/1", "One", "added"),
                                        Taken("https://a.example/2", "Two", "deferred")))


async def test_feed_polls_failures_and_articles_are_counted() -> None:
    core = FailingFeedCore(FEEDS)
    worker = Worker()
    metrics = Metrics()
    bot = SimpleNamespace(settings=make_settings(Path("unused"), feed_concurrency=10),
                          core=core, worker=worker, closing=False, metrics=metrics)
    loop = FeedLoop(bot)  # type: ignore[arg-type]
    try:
        await loop.tick()
        await asyncio.gather(*loop.polls.values())
    finally:
        await asyncio.to_thread(worker.close, STEP)
    assert sorted(core.polled) == [1, 2, 3]

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert sample("citebot_feed_polls_total", status="new") == 1
    assert sample("citebot_feed_polls_total", status="failed") == 2  # the feed's and the poll's
    assert sample("citebot_feed_poll_failures_total") == 2
    assert sample("citebot_articles_added_total", via="feed", status="added") == 1
