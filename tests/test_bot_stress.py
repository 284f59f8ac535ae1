"""Reliability under stress, end to end against the fake Discord: a flood of commands from one
member, and no secret in any log. (429s and gateway faults: test_bot_resilience.py; hostile
input: test_bot_safety.py.)

Every test records its figures; the module prints them at its end (with the seed of its
randomised parts), so they show in plain `pytest -q` output.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import statistics
from pathlib import Path
from typing import Any

import pytest

from bot.discord import redact, render
from tests.fakediscord import InteractionRecord, MessageRecord
from tests.test_bot_support import (
    ALICE,
    BOB,
    BRIDGE_QUESTION,
    CAROL,
    CHANNEL_A,
    GUILD_A,
    GUILD_B,
    STEP,
    TOKEN,
    add_bridge,
    answered,
    assert_no_mentions,
    bot_env,
    bridge_env,
    description,
    errors_logged,
    figures_fixture,
    mention,
    reply_to,
)

SEED = 20_240_611
figures = figures_fixture("stress", SEED)

QUESTION = BRIDGE_QUESTION
QUESTIONS = ("What did Mayor Reyes say about the bridge?", "What did Patel say about tolls?",
             "When did the bridge open?", "Who cut the ribbon?", "How late was the bridge?")


# -- a flood from one member ---------------------------------------------------------------


async def test_a_flood_from_one_member_is_cooled_down_and_slows_nobody_else(
    tmp_path: Path, figures: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """100 /ask a second (every fifth one a mention instead) from one member for 2.5 s, while
    other members ask in another server every 0.1 s."""
    rng = random.Random(SEED)
    rate, seconds, cooldown = 100, 2.5, 2.0
    async with bot_env(tmp_path, min_score=-1.0, ask_cooldown_s=cooldown) as env:
        fake = env.fake
        await add_bridge(env, GUILD_A)
        await add_bridge(env, GUILD_B)
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def flood() -> tuple[list[InteractionRecord], list[MessageRecord]]:
            recs: list[InteractionRecord] = []
            posts: list[MessageRecord] = []
            for i in range(int(rate * seconds)):
                due = start + (i + rng.random()) / rate
                if (delay := due - loop.time()) > 0:
                    await asyncio.sleep(delay)
                question = rng.choice(QUESTIONS)
                if i % 5 == 4:
                    posts.append(await mention(fake, GUILD_A, CHANNEL_A, ALICE, question))
                else:
                    recs.append(await env.slash("ask", {"question": question}, user=ALICE))
            return recs, posts

        async def probe() -> list[InteractionRecord]:
            probes = []
            for i in range(int(seconds * 10)):
                if (delay := start + i / 10 - loop.time()) > 0:
                    await asyncio.sleep(delay)
                probes.append(await env.slash("ask", QUESTION, guild=GUILD_B,
                                              user=960_000_000_000_000_000 + i))
            return probes

        (recs, posts), probes = await asyncio.gather(flood(), probe())
        sent_for = loop.time() - start
        await asyncio.gather(*(r.wait_ack(STEP) for r in recs + probes))
        acks = sorted(r.ack_latency or 0.0 for r in probes)
        flood_acks = sorted(r.ack_latency or 0.0 for r in recs)
        for r in probes:
            assert "Mayor Dana Reyes" in description(await r.wait_response(STEP))
        accepted = [r for r in recs if r.callback_type == 5]
        for r in accepted:
            assert (await r.wait_response(STEP)).embeds  # an answer (the question varies)
        cooled = [r for r in recs if r.callback_type == 4]
        for r in cooled:
            assert r.response is not None and r.response.ephemeral
            assert r.response.content.startswith("Please wait ")
        assert len(accepted) + len(cooled) == len(recs)  # every command acknowledged
        uses = int(sent_for / cooldown) + 1  # the most a member may ask in that time
        assert 1 <= len(accepted) <= uses
        await asyncio.sleep(0.3)  # let mention replies land
        mention_replies = [m for m in fake.bot_messages() if m.channel_id == CHANNEL_A
                           and "message_reference" in m.payload]
        told = [m for m in mention_replies if m.content.startswith("Please wait ")]
        answers = [m for m in mention_replies if m.embeds]
        # the channel is not spammed: one notice per cooldown, not one per message
        assert len(told) <= uses and len(told) + len(answers) >= 1
        assert len(accepted) + len(answers) <= uses  # mentions share the member's cooldown
        assert acks[-1] < 1.0, acks
        assert fake.connected and not env.bot.is_closed()
        await answered(env)  # the flooded server still answers others
        # the flooder's last accepted use came before that answer (a mention sent at the
        # flood's end is taken after it was sent), so a cooldown from now is surely over
        await asyncio.sleep(cooldown)
        await answered(env, user=ALICE)  # and the flooder, once cooled down
        assert not [r for r in fake.requests if r.status is not None and r.status >= 400]
        assert_no_mentions(fake)
    assert not errors_logged(caplog)
    figures.append(
        f"flood: {len(recs) + len(posts)} commands in {sent_for:.2f} s "
        f"({(len(recs) + len(posts)) / sent_for:.0f}/s; {len(posts)} of them mentions) from one "
        f"member; other server's /ask ack p50 {statistics.median(acks) * 1000:.0f} ms, max "
        f"{acks[-1] * 1000:.0f} ms over {len(acks)} asks; flood acks p50 "
        f"{statistics.median(flood_acks) * 1000:.0f} ms, max {flood_acks[-1] * 1000:.0f} ms; "
        f"{len(cooled)} cooldown messages to /ask, {len(told)} to mentions, "
        f"{len(accepted) + len(answers)} answered")


# -- secrets -------------------------------------------------------------------------------


FAKE_LOGGERS = ("aiohttp.access", "aiohttp.server", "aiohttp.web")  # the fake Discord's own


def _texts(record: logging.LogRecord) -> str:
    return "\n".join([record.getMessage(), record.exc_text or "", record.stack_info or ""])


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


async def test_no_secret_reaches_a_log_or_a_message(
    tmp_path: Path, figures: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """The bot at DEBUG, with the redaction `citebot run` installs: neither the bot token nor
    any interaction token appears in any log record, at any level (tracebacks included), nor
    in anything the bot sent as message content."""
    caplog.set_level(logging.DEBUG)
    redactor = redact.install(TOKEN)
    try:
        async with bridge_env(tmp_path) as env:
            fake = env.fake
            await add_bridge(env, GUILD_B)
            await answered(env, user=ALICE)
            fake.inject_429("POST", r"^/webhooks/\d+/[^/]+$", retry_after=0.05)  # a warning
            await answered(env, user=BOB)
            fake.inject_429("POST", r"^/webhooks/\d+/[^/]+$", retry_after=0.01, count=5)
            failed = await env.slash("ask", QUESTION, user=CAROL)  # gives up: an error
            assert (await failed.wait_response(STEP)).content == render.UNEXPECTED
            posted = await mention(fake, GUILD_A, CHANNEL_A, BOB, "what did Patel say?")
            await reply_to(fake, posted)
            await (await env.slash("articles")).wait_response(STEP)
            choices = await fake.autocomplete(GUILD_A, None, ALICE, "ask",
                                              {"question": "x", "article": ""}, "article")
            await choices.wait_choices(STEP)
            await fake.send_reconnect()
            await fake.wait_for(lambda: fake.resume_count or None, STEP, "a RESUME")
            await answered(env, guild=GUILD_B)
            tokens = [rec.token for rec in fake.interactions.values()]
            bodies = fake.message_bodies()
            outbound = fake.outbound
            paths = [r.path for r in fake.requests]
    finally:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(redactor)
    secrets = [TOKEN, *tokens]
    assert len(tokens) == 6 and all(any(t in p for p in paths) for t in tokens)  # they travelled
    records = [r for r in caplog.records if not r.name.startswith(FAKE_LOGGERS)]
    leaks = [(r.levelname, r.name, s[:12]) for r in records for s in secrets if s in _texts(r)]
    assert not leaks, leaks
    scrubbed = [r for r in records if redact.REDACTED in _texts(r)]
    assert scrubbed  # secrets were logged (webhook URLs, gateway events) and redacted
    assert any(r.levelno >= logging.ERROR and r.exc_text for r in records)  # a traceback too
    shown = [s for body in bodies for s in _strings(body)]
    assert bodies and not [s for s in shown for secret in secrets if secret in s]
    sent = json.dumps([r.body for r in outbound])  # every JSON body: syncs, callbacks, ...
    assert not [secret for secret in secrets if secret in sent]
    levels = {name: sum(r.levelno == lvl for r in records)
              for name, lvl in (("DEBUG", 10), ("INFO", 20), ("WARNING", 30), ("ERROR", 40))}
    figures.append(f"secrets: {len(records)} log records ({levels}), {len(scrubbed)} scrubbed, "
                   f"0 leaks of the bot token or {len(tokens)} interaction tokens; "
                   f"{len(bodies)} message bodies clean")
