"""The bot's plain parts: rate limits, token redaction, the worker pool, throttled progress,
link finding, and the command logic in bot.actions (over a real core with the hash model)."""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import threading
import time
from types import SimpleNamespace
from typing import Any

import aiohttp
import discord
import pytest

from bot.discord import actions, redact
from bot.discord.cogs.common import check_url, links_in, strip_mention
from bot.discord.limits import (
    QUESTION_MAX,
    BadQuestion,
    Cooldown,
    Limits,
    OnCooldown,
    Quota,
    QuotaExceeded,
    check_question,
)
from bot.discord.progress import ProgressMessage
from bot.discord.reconnect import ReconnectThrottle
from bot.discord.work import Inflight, Stopping, Worker
from index.errors import ArticleError, NotFoundError, TooLargeError, UnsupportedContentError
from retrieval.core import Core
from tests.test_bot_support import BRIDGE, HARBOR_HTML, TOKEN


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- limits --------------------------------------------------------------------------------


def test_cooldown_is_per_member() -> None:
    clock = Clock()
    cooldown = Cooldown(5.0, clock)
    cooldown.hit(1)
    cooldown.hit(2)
    clock.now += 3
    with pytest.raises(OnCooldown) as info:
        cooldown.hit(1)
    assert info.value.retry_after == pytest.approx(2.0)
    clock.now += 2
    cooldown.hit(1)


def test_quota_is_a_sliding_hour_per_server() -> None:
    clock = Clock()
    quota = Quota(3, 3600, clock)
    quota.take(1, 2)
    clock.now += 600
    quota.take(1)
    quota.take(2, 3)  # another server has its own quota
    with pytest.raises(QuotaExceeded) as info:
        quota.take(1)
    assert info.value.retry_after == pytest.approx(3000.0)
    with pytest.raises(QuotaExceeded):
        quota.take(2, 1)
    clock.now += 3000
    quota.take(1, 2)  # the first two uses expired


@pytest.mark.clock
def test_public_refusals_are_rationed_per_member() -> None:
    limits = Limits(ask_cooldown_s=5.0, add_quota_per_hour=1)
    assert limits.may_tell(1) and not limits.may_tell(1) and limits.may_tell(2)
    assert all(Limits(ask_cooldown_s=0.0, add_quota_per_hour=1).may_tell(1) for _ in range(3))


def test_questions_must_be_non_blank_and_short() -> None:
    check_question("x" * QUESTION_MAX)
    for bad, too_long in (("", False), ("  ", False), ("x" * (QUESTION_MAX + 1), True)):
        with pytest.raises(BadQuestion) as info:
            check_question(bad)
        assert info.value.too_long is too_long


# -- gateway reconnects --------------------------------------------------------------------


def test_reconnects_back_off_while_they_come_quickly_and_settle_after() -> None:
    clock = Clock()
    throttle = ReconnectThrottle(first=0.5, cap=4.0, settle=30.0, clock=clock)
    delays = []
    for _ in range(7):
        delays.append(throttle.next_delay())
        clock.now += delays[-1] + 0.1  # the connection dropped at once
    assert delays == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    clock.now += 30.0  # a connection that lasted
    assert throttle.next_delay() == 0.0


def test_a_bot_serving_three_shards_opens_three_connections_at_once() -> None:
    clock = Clock()
    throttle = ReconnectThrottle(first=0.5, cap=4.0, settle=30.0, burst=3, clock=clock)
    delays = []
    for _ in range(6):
        delays.append(throttle.next_delay())
        clock.now += delays[-1] + 0.1
    assert delays == [0.0, 0.0, 0.0, 0.5, 1.0, 2.0]


@pytest.mark.clock
async def test_closing_ends_a_reconnect_wait_at_once() -> None:
    throttle = ReconnectThrottle(first=20.0)
    await throttle.wait()  # the first connection: no wait
    waiting = asyncio.create_task(throttle.wait())  # a quick second one would wait 20 s
    await asyncio.sleep(0.05)
    throttle.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await asyncio.wait_for(waiting, 1.0)


# -- the token never reaches a log ---------------------------------------------------------


def test_token_is_redacted_at_every_level_logger_and_traceback() -> None:
    stream = io.StringIO()
    root = logging.getLogger("canary-root")
    root.handlers, root.propagate = [logging.StreamHandler(stream)], False
    root.setLevel(logging.DEBUG)
    redact.install(TOKEN, root)
    child = logging.getLogger("canary-root.discord.http")
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
        child.log(level, "sending Authorization: Bot %s", TOKEN)
        root.log(level, f"inline {TOKEN}")
    try:
        raise RuntimeError(f"bad header {TOKEN}")
    except RuntimeError:
        child.exception("request failed")
    child.info("args %s and %r", {"token": TOKEN}, [TOKEN])
    output = stream.getvalue()
    assert TOKEN not in output
    assert output.count(redact.REDACTED) >= 11
    assert "request failed" in output and "RuntimeError: bad header" in output


def test_interaction_and_webhook_tokens_are_scrubbed_wherever_they_appear() -> None:
    secret = "aW50ZXJhY3Rpb246MTIz-Ok_x.y"
    lines = [
        f"POST http://127.0.0.1:1/api/v10/interactions/123/{secret}/callback has returned 200",
        f"Webhook ID 9 with POST https://discord.com/api/v10/webhooks/9/{secret} returned 200",
        f"PATCH /webhooks/9/{secret}/messages/@original?wait=1",
        f"WebSocket Event: {{'op': 0, 'd': {{'id': '5', 'token': '{secret}', 'type': 2}}}}",
        f'{{"token": "{secret}", "version": 1}}',
    ]
    for line in lines:
        clean = redact.scrub(line)
        assert secret not in clean and redact.REDACTED in clean, clean
    assert redact.scrub("GET /channels/9/messages/10") == "GET /channels/9/messages/10"
    assert redact.scrub(f"Bot {TOKEN}", TOKEN) == f"Bot {redact.REDACTED}"


# -- worker pool ---------------------------------------------------------------------------


async def test_one_servers_flood_does_not_hold_up_another() -> None:
    worker = Worker(threads=4, per_server=2)
    release = threading.Event()
    try:
        flood = [asyncio.create_task(worker.run(1, release.wait, 10)) for _ in range(20)]
        await asyncio.sleep(0.05)
        started = time.monotonic()
        assert await asyncio.wait_for(worker.run(2, lambda: "answered"), 2) == "answered"
        assert time.monotonic() - started < 0.5
        release.set()
        assert all(await asyncio.gather(*flood))
    finally:
        release.set()
        assert await asyncio.to_thread(worker.close, 5)


async def test_close_stops_long_work_and_reports_stragglers() -> None:
    worker = Worker(threads=2)
    stuck = threading.Event()

    def long_job() -> None:
        while True:
            worker.check_stopping()
            time.sleep(0.01)

    job = asyncio.create_task(worker.run(1, long_job))
    straggler = asyncio.create_task(worker.run(2, stuck.wait, 5))
    await asyncio.sleep(0.05)
    assert not await asyncio.to_thread(worker.close, 0.3)  # the straggler is still running
    with pytest.raises(Stopping):
        await job
    stuck.set()
    await straggler


async def test_inflight_drain_waits_then_cancels() -> None:
    inflight = Inflight()

    async def serve(seconds: float) -> None:
        inflight.adopt()
        await asyncio.sleep(seconds)

    quick = asyncio.create_task(serve(0.05))
    slow = asyncio.create_task(serve(30))
    await asyncio.sleep(0)
    assert len(inflight) == 2
    assert await inflight.drain(0.3) == 1
    assert quick.done() and not quick.cancelled() and slow.cancelled()


@pytest.mark.clock
async def test_progress_edits_at_most_once_per_interval_with_the_latest_figures() -> None:
    edits: list[tuple[float, str]] = []

    async def edit(text: str) -> None:
        edits.append((time.monotonic(), text))

    progress = ProgressMessage(edit, interval=0.2)
    sent: list[tuple[float, int]] = []
    async with progress:
        for done in range(1, 31):
            await asyncio.to_thread(progress.update, done, 30)
            sent.append((time.monotonic(), done))  # the figures are recorded by now
            await asyncio.sleep(0.02)
    await progress.finish("done")
    times = [t for t, _ in edits]
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(times))
    assert 2 <= len(edits) <= 6 and edits[-1][1] == "done"
    for at, text in edits[:-1]:  # each edit shows the figures current when it was made
        latest = max((d for t, d in sent if t < at), default=0)
        assert int(text.split("/")[0].split()[-1]) >= latest, (text, latest)


@pytest.mark.clock
async def test_progress_check_can_stop_the_job() -> None:
    def refuse() -> None:
        raise Stopping("bye")

    progress = ProgressMessage(lambda text: asyncio.sleep(0), check=refuse)
    with pytest.raises(Stopping):
        progress.update(1, 2)


# -- links and mentions --------------------------------------------------------------------


def test_links_in_a_message_are_found_cleaned_and_capped() -> None:
    content = ("Read https://a.example/one, and <https://b.example/two>! also "
               "(https://c.example/three) https://a.example/one ftp://no.example "
               + " ".join(f"https://d.example/{i}" for i in range(9)))
    message = SimpleNamespace(content=content, embeds=[])
    urls = links_in(message)  # type: ignore[arg-type]
    assert urls[:3] == ["https://a.example/one", "https://b.example/two", "https://c.example/three"]
    assert len(urls) == 5


def test_mention_and_url_helpers() -> None:
    assert strip_mention("<@42> what did  Kim say? <@!42>", 42) == "what did Kim say?"
    assert strip_mention("<@42> hi <@7>", 42) == "hi <@7>"
    assert check_url(" <https://news.example/a> ") == "https://news.example/a"
    with pytest.raises(ArticleError):
        check_url("file:///etc/passwd")


# -- command logic -------------------------------------------------------------------------


def add_bridge(core: Core, collection: str, by: str = "1") -> Any:
    title, _, text = BRIDGE.partition("\n")
    return core.indexer.add_text(collection, title=title, text=text, added_by=by)


def test_resolve_article_by_id_or_unique_title(hash_core: Core) -> None:
    art = add_bridge(hash_core, "guild-1").article
    assert actions.resolve_article(hash_core, "guild-1", art.id) == art
    assert actions.resolve_article(hash_core, "guild-1", "new bridge").id == art.id
    with pytest.raises(NotFoundError, match="pick one"):
        actions.resolve_article(hash_core, "guild-2", art.id)  # another server's article


def test_a_question_is_asked_of_its_article_and_kept_in_its_conversation(
        hash_core: Core) -> None:
    """The cogs hand `actions.ask` one `Question` (they passed eight values in a row, twice):
    its article found by title, its answer kept in its conversation, another server's
    articles never searched."""
    art = add_bridge(hash_core, "guild-1").article
    add_bridge(hash_core, "guild-2")
    question = actions.Question("guild-1", "What did Mayor Reyes say about the bridge?",
                                conversation="555", article="new bridge")
    answer = actions.ask(hash_core, question)
    assert answer.quotes and {q.citation.article_id for q in answer.quotes} == {art.id}
    assert hash_core.conversation("guild-1", "555") is not None
    assert hash_core.conversation("guild-2", "555") is None


def test_remove_is_for_the_adder_or_a_manager(hash_core: Core) -> None:
    art = add_bridge(hash_core, "guild-1", by="100").article
    with pytest.raises(actions.NotAllowedError):
        actions.remove_article(hash_core, "guild-1", art.id, user_id="200", can_manage=False)
    removed = actions.remove_article(hash_core, "guild-1", art.id, user_id="100",
                                     can_manage=False)
    assert removed.id == art.id and hash_core.storage.list_articles("guild-1") == []
    art = add_bridge(hash_core, "guild-1", by="100").article
    actions.remove_article(hash_core, "guild-1", art.id, user_id="200", can_manage=True)


def test_attachments_are_checked_before_download_and_read_by_kind(hash_core: Core) -> None:
    with pytest.raises(UnsupportedContentError):
        actions.check_attachment("report.pdf", 10, 1000)
    with pytest.raises(TooLargeError):
        actions.check_attachment("big.txt", 1001, 1000)
    result = actions.add_document(hash_core, "guild-1", "bridge.md", BRIDGE.encode(), "5")
    assert result.article.title == "Officials open new bridge after years of delay"
    page = actions.add_document(hash_core, "guild-1", "page.html", HARBOR_HTML.encode(), "5")
    assert page.status == "added" and page.article.title == "Port Averly approves flood barrier"


def test_article_pages_are_clamped(hash_core: Core) -> None:
    for i in range(12):
        hash_core.indexer.add_text("guild-1", title=f"Story {i}", text=f"Paragraph {i} text.")
    first = actions.article_page(hash_core, "guild-1", 0)
    last = actions.article_page(hash_core, "guild-1", 9)
    assert (first.page, first.pages, first.total, len(first.articles)) == (1, 2, 12, 10)
    assert (last.page, len(last.articles)) == (2, 2)
    assert first.articles[0].title == "Story 11"  # newest first


def test_allowed_mentions_constant_is_none() -> None:
    from bot.discord.replies import NO_MENTIONS

    assert NO_MENTIONS.to_dict() == discord.AllowedMentions.none().to_dict() == {"parse": []}


def test_discord_endpoints_are_configurable_and_restored(tmp_path: Any) -> None:
    from bot.discord.app import discord_endpoints
    from tests.test_bot_support import make_settings

    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    settings = make_settings(tmp_path, discord_api_base="http://proxy.internal:8080/api/v10/",
                             discord_gateway_url="ws://proxy.internal:8081/")
    with discord_endpoints(settings):
        assert discord.http.Route.BASE == "http://proxy.internal:8080/api/v10"
        route = discord.http.Route("GET", "/users/@me")
        assert route.url == "http://proxy.internal:8080/api/v10/users/@me"
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "ws://proxy.internal:8081/"
    restored = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    assert restored == (base, gateway)
