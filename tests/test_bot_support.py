"""Shared harness for the bot's end-to-end tests: the fake Discord with two servers, the real
`CitebotBot` on a temporary data directory, and a few fakes for the core (no tests here)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.discord.client import CitebotBot, make_bot
from bot.discord.work import Worker
from config.settings import Settings
from index.encode.embed import Embedder
from retrieval.core import Core
from retrieval.models import Answer
from tests.fakediscord import (
    MEMBER_PERMISSIONS,
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeUser,
    InteractionRecord,
    MessageRecord,
    connected,
    loopback_only_trace,
    point_discord_at,
)
from tests.fakes import HashEmbedder

TOKEN = "citebot-canary-token-7Qx9.GZk3-never-log-me"
GUILD_A, CHANNEL_A = 910_000_000_000_000_001, 910_000_000_000_000_002
GUILD_B, CHANNEL_B = 920_000_000_000_000_001, 920_000_000_000_000_002
ALICE, BOB, CAROL = 930_000_000_000_000_001, 930_000_000_000_000_002, 930_000_000_000_000_003
MANAGE_GUILD = 1 << 5
MANAGER = MEMBER_PERMISSIONS | MANAGE_GUILD
STEP = 8.0  # upper bound for any single wait

BRIDGE = """Officials open new bridge after years of delay

The Marlow river bridge opened to traffic on Monday, four years later than planned.

"This bridge connects two halves of a city that have been apart for too long," Mayor Dana Reyes said at the ribbon cutting.

Transport minister Arjun Patel said that tolls would be waived for the first six months.
"""  # noqa: E501


HARBOR_HTML = """<!doctype html><html><head><title>Port Averly approves flood barrier</title>
<meta property="og:site_name" content="Averly Gazette"></head><body><article>
<h1>Port Averly approves flood barrier</h1>
<p>The Port Averly city council voted 7-2 on Tuesday to build a retractable flood barrier
across the mouth of the harbor, three months after a record storm surge.</p>
<p>"We cannot ask families to rebuild in the same place and hope the water stays away,"
Mayor Lucia Ortiz said after the vote.</p>
<p>Councilman Derek Hale, who voted against the plan, argued that the money would be better
spent buying out homes in the most exposed streets.</p>
</article></body></html>"""


def make_fake(**kwargs: Any) -> FakeDiscord:
    users = [FakeUser(ALICE, "alice"), FakeUser(BOB, "bob"), FakeUser(CAROL, "carol")]
    guilds = [
        FakeGuild(GUILD_A, "Newsroom", channels=[FakeChannel(CHANNEL_A, "news")], members=users),
        FakeGuild(GUILD_B, "Elsewhere", channels=[FakeChannel(CHANNEL_B, "talk")],
                  members=users),
    ]
    return FakeDiscord(token=TOKEN, guilds=guilds, **kwargs)


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir, "ask_cooldown_s": 0.0, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def running(core: Core, settings: Settings, *, worker: Worker | None = None,
                  urls: list[str] | None = None,
                  ready_within: float = STEP) -> AsyncIterator[CitebotBot]:
    """The real bot (sharded when the settings say so), logged in and READY against the fake
    the caller points discord.py at; its worker pool closed after it."""
    bot = make_bot(core=core, settings=settings, worker=worker, guild_ready_timeout=0.05,
                   http_trace=loopback_only_trace(urls))
    try:
        async with connected(bot, TOKEN, step=STEP, ready_within=ready_within):
            yield bot
    finally:
        await asyncio.to_thread(bot.worker.close, STEP)


@dataclass
class Env:
    fake: FakeDiscord
    bot: CitebotBot
    core: Core
    settings: Settings
    urls: list[str] = field(default_factory=list)

    async def slash(self, name: str, options: dict[str, Any] | None = None, *,
                    guild: int | None = GUILD_A, user: int = ALICE,
                    permissions: int = MEMBER_PERMISSIONS) -> InteractionRecord:
        channel = {GUILD_A: CHANNEL_A, GUILD_B: CHANNEL_B}.get(guild) if guild else None
        return await self.fake.slash(guild, channel, user, name, options,
                                     permissions=permissions)

    async def add_text(self, title: str, text: str, *, guild: int = GUILD_A,
                       user: int = ALICE) -> InteractionRecord:
        rec = await self.slash("add text", {"title": title, "text": text}, guild=guild,
                               user=user)
        await rec.wait_response(STEP)
        return rec


@asynccontextmanager
async def bot_env(tmp_path: Path, *, embedder: Embedder | None = None,
                  fake_options: dict[str, Any] | None = None,
                  prepare: Callable[[FakeDiscord], object] | None = None,
                  **settings: Any) -> AsyncIterator[Env]:
    """A fake Discord with two servers and the bot connected to it, on a fresh data dir;
    `prepare(fake)` runs before the bot logs in."""
    async with make_fake(**(fake_options or {})) as fake:
        if prepare is not None:
            prepare(fake)
        with point_discord_at(fake.api_base, fake.gateway_url):
            config = make_settings(tmp_path / "data", **settings)
            core = Core.open(config, embedder=embedder or HashEmbedder())
            urls: list[str] = []
            try:
                async with running(core, config, urls=urls) as bot:
                    yield Env(fake, bot, core, config, urls)
            finally:
                core.close()


BRIDGE_QUESTION = {"question": "What did Mayor Reyes say about the bridge?"}


@asynccontextmanager
async def bridge_env(tmp_path: Path, **options: Any) -> AsyncIterator[Env]:
    """`bot_env` (every question answered: no "not found") with BRIDGE in server A."""
    async with bot_env(tmp_path, **{"min_score": -1.0, **options}) as env:
        await add_bridge(env)
        yield env


async def add_bridge(env: Env, guild: int = GUILD_A) -> None:
    """Index the BRIDGE article in a server, straight through the core."""
    title, _, text = BRIDGE.partition("\n")
    await asyncio.to_thread(env.core.indexer.add_text, f"guild-{guild}", title=title, text=text)


async def answered(env: Env, *, guild: int = GUILD_A, user: int = CAROL) -> None:
    """The bot is up and answers a question about BRIDGE normally."""
    rec = await env.slash("ask", BRIDGE_QUESTION, guild=guild, user=user)
    assert "Mayor Dana Reyes" in description(await rec.wait_response(STEP))


async def mention(fake: FakeDiscord, guild: int, channel: int, user: int,
                  text: str) -> MessageRecord:
    """A member posts `text` mentioning the bot."""
    return await fake.message(guild, channel, user, f"{fake.bot_mention} {text}",
                              mentions=[fake.bot_user_id])


async def reply_to(fake: FakeDiscord, posted: MessageRecord,
                   timeout: float = STEP) -> MessageRecord:
    """Wait for the bot's reply to a posted message."""

    def replies(m: MessageRecord) -> bool:
        ref = m.payload.get("message_reference") or {}
        return str(ref.get("message_id")) == str(posted.id)

    return await fake.wait_for_message(replies, timeout)


def assert_no_mentions(fake: FakeDiscord) -> None:
    """Every message body the bot sent (creates, edits, followups, callbacks) pings nobody."""
    bodies = fake.message_bodies()
    assert bodies, "the bot sent no message bodies"
    for body in bodies:
        allowed = body.get("allowed_mentions")
        assert allowed is not None and allowed["parse"] == [], body
        assert not allowed.get("users") and not allowed.get("roles"), body
        assert not allowed.get("replied_user"), body


async def poll(check: Any, timeout: float = STEP, every: float = 0.02) -> None:
    """Wait until `check()` is true, for state the fake is not notified about."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {check}")
        await asyncio.sleep(every)


def figures_fixture(label: str, seed: int | None = None) -> Callable[..., Iterator[list[str]]]:
    """A module-scoped fixture: tests append one line per figure they measured, and the module
    prints them (with the seed of its randomised parts) at its end, even without `-s`."""

    @pytest.fixture(scope="module")
    def figures(request: pytest.FixtureRequest) -> Iterator[list[str]]:
        lines: list[str] = []
        yield lines
        capture = request.config.pluginmanager.getplugin("capturemanager")
        writer = request.config.get_terminal_writer()
        with capture.global_and_fixture_disabled():
            writer.line()
            if seed is not None:
                writer.line(f"{label}: random seed {seed}")
            for line in lines:
                writer.line(f"{label}: {line}")

    return figures


def logged(caplog: pytest.LogCaptureFixture, logger: str,
           *words: str) -> list[logging.LogRecord]:
    """The records of `logger` (or a logger below it) whose message holds every word."""
    return [r for r in caplog.records if (r.name == logger or r.name.startswith(logger + "."))
            and all(w in r.getMessage() for w in words)]


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def feedback_rows(settings: Settings) -> list[tuple[Any, ...]]:
    with sqlite3.connect(settings.db_path) as db:
        return db.execute(
            "SELECT collection, question, quotes, vote, user_id FROM feedback ORDER BY rowid"
        ).fetchall()


def description(rec_or_msg: Any) -> str:
    embeds = rec_or_msg.embeds
    return "\n".join(e.get("description", "") for e in embeds)


# -- fakes for the core --------------------------------------------------------------------


class SlowEmbedder(HashEmbedder):
    """HashEmbedder that takes `delay` seconds for any batch mentioning `marker` (the chunks
    of articles whose title carries it: what a rebuild embeds), and no longer otherwise."""

    def __init__(self, marker: str = "Slowpoke") -> None:
        super().__init__()
        self.marker = marker
        self.delay = 0.0

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.delay and any(self.marker in t for t in texts):
            time.sleep(self.delay)
        return super().embed(texts)


class GatedAnswerer:
    """Wraps an answerer; every `ask` waits until `gate` opens (or `timeout` passes)."""

    def __init__(self, inner: Any, timeout: float = 30.0) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)
        self.timeout = timeout

    def ask(self, collection: str, question: str, **kw: Any) -> Answer:
        self.entered.release()
        self.gate.wait(self.timeout)
        return self.inner.ask(collection, question, **kw)


class BrokenAnswerer:
    """An answerer that fails in a way nobody expected."""

    def ask(self, collection: str, question: str, **kw: object) -> Answer:
        raise RuntimeError("the index caught fire")


class FixedAnswerer:
    """Always answers with the same prepared `Answer`."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.collections: list[str] = []

    def ask(self, collection: str, question: str, **kw: Any) -> Answer:
        self.collections.append(collection)
        return self.answer
