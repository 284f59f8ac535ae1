"""Bot shards in one process: the settings that choose them, the fake Discord's sharding (as
Discord assigns servers, recommends a count and refuses a bad shard), discord.py's sharded
client and citebot's sharded bot against it, and which process polls which feed."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import discord
import pytest

from bot.cli import main
from bot.discord import app
from bot.discord.actions import collection_for
from bot.discord.client import CitebotBot, ShardedCitebotBot, make_bot
from bot.discord.feed_loop import FeedLoop
from bot.discord.metrics import Metrics
from bot.discord.work import Worker
from config.settings import Settings, parse_shard_ids
from index.intake.poller import PollReport
from index.store import Feed, ShardFilter
from index.store.shards import claim_shards
from retrieval.core import Core
from tests.conftest import on_backend
from tests.fakediscord import FakeDiscord, loopback_only_trace, point_discord_at, shard_of
from tests.fakes import HashEmbedder
from tests.test_bot_support import (
    ALICE,
    CHANNEL_A,
    CHANNEL_B,
    GUILD_A,
    GUILD_B,
    STEP,
    TOKEN,
    make_fake,
    make_settings,
    running,
)


def shard_settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "ids"), [
    ("0", (0,)), ("0,2", (0, 2)), ("1-3", (1, 2, 3)), ("[4, 5]", (4, 5)), ("0-1, 5", (0, 1, 5)),
])
def test_shard_ids_are_read_as_lists_and_ranges(text: str, ids: tuple[int, ...]) -> None:
    assert parse_shard_ids(text) == ids


def test_unset_shards_keep_one_unsharded_process(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = shard_settings()
    assert not settings.sharded and settings.leads and settings.served_shards == (0,)
    assert settings.serves_guild(GUILD_A) and settings.serves_guild(GUILD_B)
    assert type(make_bot(core=None, settings=settings)) is CitebotBot  # type: ignore[arg-type]


def test_shard_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEBOT_SHARD_COUNT", "2")
    monkeypatch.setenv("CITEBOT_SHARD_IDS", "1")
    settings = shard_settings()
    assert settings.shard_ids == (1,) and not settings.leads
    assert not settings.serves_guild(GUILD_A) and settings.serves_guild(GUILD_B)
    bot = make_bot(core=None, settings=settings)  # type: ignore[arg-type]
    assert isinstance(bot, ShardedCitebotBot)
    assert bot.shard_count == 2 and bot.shard_ids == [1]


@pytest.mark.parametrize(("env", "said"), [
    ({"CITEBOT_SHARD_COUNT": "4", "CITEBOT_SHARD_IDS": "3-5"},
     "CITEBOT_SHARD_IDS: shard ids run from 0 to 3 with CITEBOT_SHARD_COUNT=4; 4, 5 are outside"),
    ({"CITEBOT_SHARD_IDS": "1"}, "CITEBOT_SHARD_IDS: set CITEBOT_SHARD_COUNT too"),
    ({"CITEBOT_SHARD_COUNT": "2", "CITEBOT_SHARD_IDS": "0,0"}, "a shard id is given twice"),
    ({"CITEBOT_SHARD_COUNT": "2", "CITEBOT_SHARD_IDS": "one"}, "'one' is not a shard id"),
    ({"CITEBOT_SHARD_COUNT": "0"}, "CITEBOT_SHARD_COUNT: Input should be greater than"),
])
def test_a_wrong_shard_setting_is_one_clear_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        env: dict[str, str], said: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["stats"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err and "Traceback" not in err, err


def test_discord_closing_for_sharding_says_what_to_set() -> None:
    closed = discord.ConnectionClosed(SimpleNamespace(close_code=4011), shard_id=None)
    assert "set CITEBOT_SHARD_COUNT" in app.closed_reason(closed)
    closed = discord.ConnectionClosed(SimpleNamespace(close_code=4010), shard_id=3)
    assert "CITEBOT_SHARD_IDS" in app.closed_reason(closed)


# -- the fake Discord's sharding -------------------------------------------------------------


async def identify(fake: FakeDiscord, **extra: Any) -> int | None:
    """Open a raw gateway connection, IDENTIFY with `extra`; the close code, if closed."""
    async with aiohttp.ClientSession() as session, session.ws_connect(fake.gateway_url) as ws:
        hello = await ws.receive_json(timeout=STEP)
        assert hello["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": TOKEN, "intents": 1, **extra}})
        message = await ws.receive(timeout=STEP)
        if message.type is aiohttp.WSMsgType.TEXT:
            frame = json.loads(message.data)
            return None if frame["t"] == "READY" else frame["op"]
        return ws.close_code


async def test_the_fake_refuses_a_shard_that_does_not_fit() -> None:
    async with make_fake() as fake:
        assert await identify(fake, shard=[2, 2]) == 4010
        assert await identify(fake, shard=[0]) == 4010
        assert await identify(fake, shard=[1, 2]) is None


async def test_the_fake_requires_sharding_past_its_limit() -> None:
    async with make_fake(max_guilds_per_shard=1) as fake:
        assert await identify(fake) == 4011  # both servers on one session
        assert await identify(fake, shard=[0, 2]) is None


class Recorder(discord.AutoShardedClient):
    """discord.py's own sharded client, recording which shard each message came on."""

    def __init__(self, **options: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = True
        super().__init__(intents=intents, guild_ready_timeout=0.05,
                         http_trace=loopback_only_trace(), **options)
        self.seen: list[tuple[int | None, int | None]] = []  # (server, shard)
        self.got = asyncio.Event()

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append((message.guild.id if message.guild else None,
                          message.guild.shard_id if message.guild else None))
        self.got.set()


@asynccontextmanager
async def connected(client: discord.Client) -> AsyncIterator[None]:
    await client.login(TOKEN)
    task = asyncio.create_task(client.connect())
    try:
        await asyncio.wait_for(client.wait_until_ready(), STEP)
        yield
    finally:
        await client.close()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_sharded_client_takes_the_recommended_count_and_each_server_on_its_shard(
        ) -> None:
    async with make_fake(guilds_per_shard=1) as fake:  # two servers: two shards recommended
        assert fake.recommended_shards == 2
        with point_discord_at(fake.api_base, fake.gateway_url):
            client = Recorder()  # no shard_count: asks GET /gateway/bot
            async with connected(client):
                assert client.shard_count == 2
                sessions = fake.shard_sessions()
                assert {i: s.shard for i, s in sessions.items()} == {0: (0, 2), 1: (1, 2)}
                for guild in (GUILD_A, GUILD_B):
                    assert client.get_guild(guild).shard_id == shard_of(guild, 2)  # type: ignore
                held = {i: [f["d"]["id"] for f in s.log if f["t"] == "GUILD_CREATE"]
                        for i, s in sessions.items()}
                assert held == {0: [str(GUILD_A)], 1: [str(GUILD_B)]}
                msg = await fake.message(GUILD_B, CHANNEL_B, ALICE, "hello")
                await asyncio.wait_for(client.got.wait(), STEP)
                assert msg.dispatched and client.seen == [(GUILD_B, 1)]
                creates = {i: sum(f["t"] == "MESSAGE_CREATE" for f in s.log)
                           for i, s in sessions.items()}
                assert creates == {0: 0, 1: 1}  # delivered on its shard's connection only
    assert [r.path for r in fake.requests if r.path.startswith("/gateway")] == ["/gateway/bot"]


async def test_a_process_serving_one_shard_is_told_only_of_its_servers() -> None:
    async with make_fake() as fake:
        with point_discord_at(fake.api_base, fake.gateway_url):
            client = Recorder(shard_count=2, shard_ids=[1])
            async with connected(client):
                assert [g.id for g in client.guilds] == [GUILD_B]
                msg = await fake.message(GUILD_A, CHANNEL_A, ALICE, "nobody serves shard 0")
                assert not msg.dispatched
                with pytest.raises(RuntimeError, match="no gateway session holds server"):
                    await fake.slash(GUILD_A, CHANNEL_A, ALICE, "ask", {"question": "?"})


# -- citebot's sharded bot -------------------------------------------------------------------


async def test_the_sharded_bot_answers_its_servers_and_syncs_only_on_shard_0(
        tmp_path: Path) -> None:
    async with make_fake() as fake:
        with point_discord_at(fake.api_base, fake.gateway_url):
            bots: list[CitebotBot] = []
            cores: list[Core] = []
            tasks: list[asyncio.Task[None]] = []
            try:
                for shard in (1, 0):  # shard 1's process first: it must not sync
                    settings = make_settings(tmp_path / "data", shard_count=2,
                                             shard_ids=(shard,), dev_guild_id=GUILD_A)
                    cores.append(Core.open(settings, embedder=HashEmbedder()))
                    bot = make_bot(core=cores[-1], settings=settings, guild_ready_timeout=0.05,
                                   http_trace=loopback_only_trace())
                    bots.append(bot)
                    await bot.login(TOKEN)
                    tasks.append(asyncio.create_task(bot.connect()))
                    await asyncio.wait_for(bot.wait_until_ready(), STEP)
                    assert [g.id for g in bot.guilds] == [(GUILD_A, GUILD_B)[shard]]
                assert [guild for guild, _ in fake.command_syncs] == [GUILD_A]
                asked = await fake.slash(GUILD_B, CHANNEL_B, ALICE, "list")
                assert (await asked.wait_response(STEP)) is not None
                callbacks = [r for r in fake.requests if r.path.endswith("/callback")]
                assert len(callbacks) == 1
            finally:
                for bot in bots:
                    await bot.close()
                await asyncio.gather(*tasks, return_exceptions=True)
                for bot in bots:
                    await asyncio.to_thread(bot.worker.close, STEP)
                for core in cores:
                    core.close()


async def test_one_process_serving_every_shard_opens_them_without_backing_off(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    async with make_fake() as fake:
        with point_discord_at(fake.api_base, fake.gateway_url):
            settings = make_settings(tmp_path / "data", shard_count=2)
            core = Core.open(settings, embedder=HashEmbedder())
            try:  # IDENTIFYs are 5 s apart
                async with running(core, settings, ready_within=3 * STEP) as bot:
                    assert sorted(g.id for g in bot.guilds) == [GUILD_A, GUILD_B]
                    assert sorted(fake.shard_sessions()) == [0, 1]
            finally:
                core.close()
    assert not [r for r in caplog.records if "reconnecting in" in r.getMessage()]


# -- which process polls which feed ----------------------------------------------------------


class FeedCore:
    """A core that has due feeds and records what is done with them."""

    def __init__(self, feeds: list[Feed]) -> None:
        self.feeds = {feed.id: feed for feed in feeds}
        self.polled: list[int] = []
        self.retentions = 0
        self.asked: list[ShardFilter | None] = []

    def due_feeds(self, limit: int = 500, shards: ShardFilter | None = None) -> list[Feed]:
        self.asked.append(shards)
        return [f for f in self.feeds.values() if f.id not in self.polled][:limit]

    def poll_feed(self, feed_id: int, *, force: bool = False) -> PollReport:
        self.polled.append(feed_id)
        return PollReport(self.feeds[feed_id], "quiet")

    def apply_retention(self) -> int:
        self.retentions += 1
        return 0


FEEDS = [Feed(1, collection_for(GUILD_A), "https://a.example/feed", None, None, None, 0.0),
         Feed(2, collection_for(GUILD_B), "https://b.example/feed", None, None, None, 0.0),
         Feed(3, "default", "https://c.example/feed", None, None, None, 0.0)]


@pytest.mark.parametrize(("shards", "polled", "retentions"), [
    ({}, [1, 2, 3], 1),
    ({"shard_count": 2, "shard_ids": (0,)}, [1, 3], 1),
    ({"shard_count": 2, "shard_ids": (1,)}, [2], 0),
    ({"shard_count": 2}, [1, 2, 3], 1),
])
@pytest.mark.clock
async def test_each_feed_is_polled_by_the_process_holding_its_server(
        shards: dict[str, Any], polled: list[int], retentions: int) -> None:
    core = FeedCore(FEEDS)
    settings = shard_settings(feed_concurrency=10, **shards)
    worker = Worker()
    bot = SimpleNamespace(settings=settings, core=core, worker=worker, closing=False,
                          metrics=Metrics())
    loop = FeedLoop(bot)  # type: ignore[arg-type]
    try:
        await loop.tick()
        await asyncio.gather(*loop.polls.values())
        await loop.tick()  # nothing new: no feed twice, retention not again within the hour
        await asyncio.gather(*loop.polls.values())
    finally:
        await asyncio.to_thread(worker.close, STEP)
    assert sorted(core.polled) == polled and core.retentions == retentions
    assert bot.metrics.registry.get_sample_value(
        "citebot_feed_polls_total", {"status": "quiet"}) == len(polled)
    count = shards.get("shard_count")  # the store is asked for this process's feeds only
    assert set(core.asked) == {None if count is None else ShardFilter(
        count, shards.get("shard_ids", tuple(range(count))), 0 in shards.get("shard_ids", (0,)))}


async def test_a_refused_intent_ends_a_sharded_bot_for_run_to_explain(tmp_path: Path) -> None:
    """The unsharded bot carries on without the Message Content intent; discord.py's sharded
    client closes itself, so the sharded bot lets the refusal out for `citebot run` to say
    what to do (and exit 1)."""
    async with make_fake(granted_intents=0) as fake:
        with point_discord_at(fake.api_base, fake.gateway_url):
            settings = make_settings(tmp_path / "data", shard_count=2,
                                     discord_message_content=True)
            core = Core.open(settings, embedder=HashEmbedder())
            bot = make_bot(core=core, settings=settings, guild_ready_timeout=0.05,
                           http_trace=loopback_only_trace())
            try:
                await bot.login(TOKEN)
                with pytest.raises(discord.PrivilegedIntentsRequired):
                    await asyncio.wait_for(bot.connect(), STEP)
            finally:
                await bot.close()
                await asyncio.to_thread(bot.worker.close, STEP)
                core.close()
    assert 4014 in fake.gateway.close_codes_sent


def test_a_second_process_given_a_served_shard_refuses_to_start_in_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], backend: str,
        settings: Settings, request: pytest.FixtureRequest) -> None:
    store = on_backend(settings, backend, request)
    if store.database_url is not None:
        monkeypatch.setenv("CITEBOT_DATABASE_URL", store.database_url.get_secret_value())
    monkeypatch.setenv("CITEBOT_DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("CITEBOT_DISCORD_API_BASE", "http://127.0.0.1:9/api/v10")  # never Discord
    monkeypatch.setenv("CITEBOT_DISCORD_GATEWAY_URL", "ws://127.0.0.1:9/")
    monkeypatch.setenv("CITEBOT_SHARD_COUNT", "2")
    monkeypatch.setenv("CITEBOT_SHARD_IDS", "1")
    first = claim_shards(shard_settings())  # the process already serving shard 1
    assert main(["run"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "shard 1 is already served by another citebot process" in err, err
    assert "CITEBOT_SHARD_IDS" in err
    monkeypatch.setenv("CITEBOT_SHARD_IDS", "0")  # another shard is free
    claim_shards(shard_settings()).release()
    first.release()  # as when that process ends: its shard is free again
    with claim_shards(shard_settings().model_copy(update={"shard_ids": (0, 1)})) as both:
        assert both.shards == (0, 1)


def test_the_feeds_due_for_one_process_are_chosen_in_the_storage_query(any_core: Core) -> None:
    """Shard 0's process is down and its servers' feeds are long overdue: the process serving
    shard 1 still finds its own feed within a small limit (they no longer crowd it out)."""
    storage = any_core.storage

    def subscribe(collection: str, url: str, at: float) -> Feed:
        return storage.add_feed(collection, url, title=None, channel_id=None, added_by=None,
                                now=at)

    overdue = [subscribe(collection_for(GUILD_A), f"https://a{n}.example/feed", 100.0 + n)
               for n in range(6)]
    cli = subscribe("default", "https://c.example/feed", 150.0)
    mine = subscribe(collection_for(GUILD_B), "https://b.example/feed", 200.0)
    second = ShardFilter(count=2, ids=(1,), others=False)
    assert [f.id for f in any_core.due_feeds(3, shards=second)] == [mine.id]
    first = ShardFilter(count=2, ids=(0,), others=True)
    assert [f.id for f in any_core.due_feeds(10, shards=first)] == [
        f.id for f in [*overdue, cli]]
    assert len(any_core.due_feeds(10)) == 8  # unsharded: every feed
