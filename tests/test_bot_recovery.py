"""End to end against a Discord that misbehaves in ways the real one can: a malformed gateway
event or frame, a refused command sync, an unreachable gateway at start-up, a refused answer.
Each test fails without the behaviour it names; the figures are printed at the end."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.discord import render, sync
from bot.discord.views import VOTE_UP
from retrieval.models import Answer, Citation, Quote
from tests.fakediscord import FakeDiscord
from tests.test_bot_support import (
    BOB,
    BRIDGE_QUESTION,
    CHANNEL_A,
    GUILD_A,
    STEP,
    TOKEN,
    Env,
    FixedAnswerer,
    add_bridge,
    answered,
    assert_no_mentions,
    bot_env,
    bridge_env,
    description,
    figures_fixture,
    logged,
    make_fake,
    mention,
    poll,
    reply_to,
)

figures = figures_fixture("recovery")
STARTUP = 90.0  # a real process: imports and the real model, on a slow machine


# -- 1. a malformed gateway event ------------------------------------------------------------


async def test_malformed_events_are_dropped_counted_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, figures: list[str]
) -> None:
    """Clicks whose message carries `"thread": null` make discord.py's parser raise a
    TypeError inside the gateway loop; each is dropped, the connection stays up."""
    flood = 60
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        shown = await (await env.slash("ask", BRIDGE_QUESTION)).wait_response(STEP)
        for _ in range(flood):
            await fake.click(shown.id, VOTE_UP, user_id=BOB, message_patch={"thread": None})
        await answered(env)  # the same connection, after every bad event
        assert env.bot.dropped_events == flood
        assert len(fake.gateway.connections) == 1 and fake.identify_count == 1
        vote = await fake.click(shown.id, VOTE_UP, user_id=BOB)  # a well-formed click
        assert (await vote.wait_response(STEP)).content == render.feedback_thanks(1)
    first = logged(caplog, "bot.discord.events", "could not handle", "INTERACTION_CREATE", "TypeError")
    assert len(first) == 1 and first[0].exc_info  # once per kind, with its traceback
    status = logged(caplog, "bot.discord.events", "malformed gateway event(s) dropped so far")
    assert [r.getMessage().split()[0] for r in status] == ["10"]  # 10, then 100, ...
    figures.append(f"{flood} malformed INTERACTION_CREATE events: all dropped and counted, "
                   f"{len(first) + len(status)} log lines, 1 connection, then answered")


async def test_an_undecodable_frame_reopens_the_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, figures: list[str]
) -> None:
    """A frame that is not JSON fails before any parser, in discord.py's receive loop
    itself: the connection is given up and a new one opened."""
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        await fake.send_raw("{this is not json")
        await fake.wait_for(lambda: fake.identify_count == 2 or None, STEP, "a new IDENTIFY")
        await fake.wait_connected(STEP)
        await answered(env)
        assert env.bot.dropped_events == 1
        assert fake.gateway.connections[0].closed
    assert logged(caplog, "bot.discord.client", "opening a new one")
    figures.append(f"an undecodable frame: connection re-opened ({fake.identify_count} "
                   f"IDENTIFYs), then answered")


# -- 2. a refused command sync ---------------------------------------------------------------


COMMANDS = r"^/applications/\d+/commands$"


async def test_a_refused_command_sync_starts_anyway_and_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    figures: list[str],
) -> None:
    monkeypatch.setattr(sync, "RETRY_DELAYS", (0.2,) * 40)
    caplog.set_level(logging.INFO, logger="bot")
    rules = []

    def refuse_sync(fake: FakeDiscord) -> None:
        rules.append(fake.inject_error("PUT", COMMANDS, status=400, count=10_000))

    async with bot_env(tmp_path, prepare=refuse_sync, min_score=-1.0) as env:
        fake, (rule,) = env.fake, rules
        assert rule.hits and not fake.command_syncs  # refused, and the bot is up anyway
        await add_bridge(env)
        posted = await mention(fake, GUILD_A, CHANNEL_A, BOB, "what did Mayor Reyes say?")
        assert "Mayor Dana Reyes" in description(await reply_to(fake, posted))
        await fake.wait_for(lambda: len(rule.hits) >= 3 or None, STEP, "retries")
        refused = len(rule.hits)
        rule.count = 0  # Discord takes the commands again
        await fake.wait_for(lambda: fake.command_syncs or None, STEP, "a command sync")
        retry = env.bot._sync_retry  # the sync ends after Discord's answer: hash kept, logged
        assert retry is not None and await asyncio.wait_for(retry, STEP)
        await answered(env)  # /ask exists now
    said = logged(caplog, "bot.discord.sync", "Discord refused the command sync", "400", "50035")
    assert said and not [r for r in said if r.exc_info]  # what was refused, no traceback
    assert logged(caplog, "bot.discord.sync", "synced 11 commands globally")
    figures.append(f"command sync refused {refused} times (400): mentions answered meanwhile, "
                   f"synced on attempt {refused + 1}")


async def test_command_sync_retries_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(sync, "RETRY_DELAYS", (0.05, 0.05))
    rules = []

    def refuse_sync(fake: FakeDiscord) -> None:
        rules.append(fake.inject_error("PUT", COMMANDS, status=403, code=50001,
                                       message="Missing Access", count=10_000))

    async with bot_env(tmp_path, prepare=refuse_sync, min_score=-1.0) as env:
        (rule,) = rules
        await env.fake.wait_for(lambda: len(rule.hits) == 3 or None, STEP, "3 attempts")
        await poll(lambda: logged(caplog, "bot.discord.sync", "gave up"))
        await answered_by_mention(env)
        assert len(rule.hits) == 3 and not env.fake.command_syncs


async def answered_by_mention(env: Env) -> None:
    await add_bridge(env)
    posted = await mention(env.fake, GUILD_A, CHANNEL_A, BOB, "what did Mayor Reyes say?")
    assert "Mayor Dana Reyes" in description(await reply_to(env.fake, posted))


# -- 3. an unreachable gateway at start-up ----------------------------------------------------


@pytest.mark.parametrize("how", ["reset", "http"])
async def test_a_gateway_refusing_connections_at_start_is_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, figures: list[str], how: str
) -> None:
    refusals = 3
    async with bot_env(tmp_path, min_score=-1.0,
                       prepare=lambda fake: fake.refuse_gateway(refusals, how=how)) as env:
        fake = env.fake
        assert len(fake.gateway.refused) == refusals and fake.identify_count == 1
        took = fake.gateway.connections[0].opened_at - fake.gateway.refused[0]
        await add_bridge(env)
        await answered(env)
    said = logged(caplog, "bot.discord.reconnect", "cannot reach Discord's gateway at",
                   f"{fake.gateway_url} (")
    # aiohttp itself retries a reset on a pooled connection once, so one attempt may take two
    assert 1 <= len(said) <= refusals if how == "reset" else len(said) == refusals
    assert not [r for r in said if r.exc_info]
    pauses = [float(re.findall(r"retrying in ([\d.]+) s", r.getMessage())[0]) for r in said]
    assert pauses == sorted(pauses) and took >= sum(pauses), (pauses, took)  # waited, growing
    figures.append(f"gateway refusing the first {refusals} connections ({how}): "
                   f"{len(said)} one-line messages, pauses {pauses} s, connected after "
                   f"{took:.2f} s and answered")


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def read_until(stream: asyncio.StreamReader, needle: str, timeout: float) -> str:
    """Lines of `stream` up to and including the first containing `needle`."""
    seen: list[str] = []

    async def read() -> None:
        while line := (await stream.readline()).decode(errors="replace"):
            seen.append(line)
            if needle in line:
                return
        raise AssertionError(f"output ended before {needle!r}:\n{''.join(seen)[-3000:]}")

    try:
        await asyncio.wait_for(read(), timeout)
    except TimeoutError:
        raise AssertionError(f"no {needle!r} in time:\n{''.join(seen)[-3000:]}") from None
    return "".join(seen)


async def test_citebot_run_says_it_cannot_reach_the_gateway_and_stops_on_sigterm(
    tmp_path: Path, figures: list[str]
) -> None:
    gateway = f"ws://127.0.0.1:{closed_port()}/gateway"
    async with make_fake() as fake:  # REST answers; nothing listens at the gateway
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
        env.update({
            "CITEBOT_DISCORD_TOKEN": TOKEN,
            "CITEBOT_DISCORD_API_BASE": fake.api_base,
            "CITEBOT_DISCORD_GATEWAY_URL": gateway,
            "CITEBOT_DATA_DIR": str(tmp_path / "data"),
            "CITEBOT_DEV_GUILD_ID": str(GUILD_A),
            "CITEBOT_MODEL_CACHE_DIR": os.environ["CITEBOT_MODEL_CACHE_DIR"],
        })
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        assert proc.stdout is not None
        try:
            needle = f"cannot reach Discord's gateway at {gateway} ("
            shown = await read_until(proc.stdout, needle, STARTUP)
            shown += await read_until(proc.stdout, needle, STEP)  # and it tries again
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), STEP)
            shown += (await proc.stdout.read()).decode(errors="replace")
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert code == 0, shown[-3000:]
    assert "Traceback" not in shown and "AttributeError" not in shown, shown[-3000:]
    assert fake.command_syncs  # it had logged in and synced; only the gateway was missing
    figures.append(f"citebot run, nothing at the gateway: '{needle}...' shown "
                   f"{shown.count(needle)} times, exit {code} on SIGTERM, no traceback")


# -- 4. a refused answer ------------------------------------------------------------------------


def has_embeds(body: Any) -> bool:
    return bool(isinstance(body, dict) and body.get("embeds"))


#: The fields of an Invalid Form Body about an embed, as Discord sends them.
EMBED_REFUSED = {"embeds": {"0": {"description": {"_errors": [
    {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 4096 or fewer in length."}]}}}}


async def test_a_refused_answer_is_sent_as_plain_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, figures: list[str]
) -> None:
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        followup = fake.inject_error("POST", r"^/webhooks/\d+/[^/]+$", when=has_embeds,
                                     errors=EMBED_REFUSED)
        rec = await env.slash("ask", BRIDGE_QUESTION)
        shown = await rec.wait_response(STEP)
        assert followup.hits and not shown.embeds and not shown.loading
        assert "This bridge connects two halves of a city" in shown.content
        assert "Mayor Dana Reyes" in shown.content  # the speaker
        assert "Officials open new bridge after years of delay" in shown.content  # the citation

        reply = fake.inject_error("POST", rf"^/channels/{CHANNEL_A}/messages$", when=has_embeds,
                                  errors=EMBED_REFUSED)
        posted = await mention(fake, GUILD_A, CHANNEL_A, BOB, "what did Mayor Reyes say?")
        text = await reply_to(fake, posted)
        assert reply.hits and not text.embeds
        assert "This bridge connects two halves of a city" in text.content
        assert_no_mentions(fake)
    said = logged(caplog, "bot.discord.replies", "Discord refused an answer", "sent it as plain text")
    assert len(said) == 2
    figures.append(f"answer embeds refused (400): plain-text answers of {len(shown.content)} "
                   f"and {len(text.content)} characters instead")


async def test_a_long_hostile_answer_falls_back_within_the_limit(tmp_path: Path) -> None:
    cite = Citation("a1", "Report <@&1> @everyone", "news.example",
                    "https://news.example/report_(final)", "2024-05-01", 3)
    quotes = tuple(Quote(f"Finding {i}: @everyone <@{BOB}> see discord.gg/invite " + "word " * 400,
                         cite, 0, 10, "Chair @here", 0.9) for i in range(1, 4))
    answer = Answer("What did the report find?", True, quotes, ())
    async with bot_env(tmp_path) as env:
        env.core.answerer = FixedAnswerer(answer)  # type: ignore[assignment]
        env.fake.inject_error("POST", r"^/webhooks/\d+/[^/]+$", when=has_embeds,
                              errors=EMBED_REFUSED)
        shown = await (await env.slash("ask", {"question": "What did the report find?"})
                       ).wait_response(STEP)
        text = shown.content
        assert 0 < len(text) <= render.MESSAGE_MAX and not shown.embeds
        assert "Finding 1" in text and "Chair" in text and "[1]" in text and "Report" in text
        for pinging in ("@everyone", "@here", f"<@{BOB}>", "<@&1>", "discord.gg/"):
            assert pinging not in text
        assert_no_mentions(env.fake)
