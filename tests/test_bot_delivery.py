"""End to end: answers that reach the member while Discord's REST API falters (connections
cut, 5xx answers, a send that landed but whose answer was lost), a question deleted before its
answer, an embed refusal, and a question whose text would ping or carry control characters if
echoed raw (in the answer, or in the name of the thread opened on it). Figures print at the end.
"""

from __future__ import annotations

import asyncio
import logging
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from tests.fakediscord import FakeDiscord, MessageRecord
from tests.test_bot_safety import RAW, assert_inert, visible
from tests.test_bot_support import (
    BOB,
    BRIDGE_QUESTION,
    CHANNEL_A,
    GUILD_A,
    STEP,
    BrokenAnswerer,
    GatedAnswerer,
    answered,
    bot_env,
    bridge_env,
    description,
    errors_logged,
    figures_fixture,
    logged,
    mention,
    poll,
    reply_to,
)

figures = figures_fixture("delivery")
OUTAGE = 2.5  # seconds the REST API is down in these tests (the retries span about 60 s)
CHANNEL_MESSAGES = rf"^/channels/{CHANNEL_A}/messages$"
FOLLOWUPS = r"^/webhooks/\d+/[^/]+$"


def has_embeds(body: Any) -> bool:
    return bool(isinstance(body, dict) and body.get("embeds"))


def replies_to(fake: FakeDiscord, posted: MessageRecord) -> list[MessageRecord]:
    return [m for m in fake.bot_messages() if m.deleted_at is None and str(
        (m.payload.get("message_reference") or {}).get("message_id")) == str(posted.id)]


# -- the REST API drops during a question ----------------------------------------------------


async def test_a_mention_is_answered_once_the_api_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, figures: list[str]
) -> None:
    """Connections to the API are cut for OUTAGE seconds from the mention on: the typing
    request fails, the reply fails, and the reply is sent again once the API is back."""
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        outage = fake.inject_outage(OUTAGE)
        posted = await mention(fake, GUILD_A, CHANNEL_A, BOB, "what did Mayor Reyes say?")
        reply = await reply_to(fake, posted, OUTAGE + STEP)
        took = reply.created_at - posted.created_at
        assert "Mayor Dana Reyes" in description(reply)
        assert any(r.path.endswith("/typing") for r in outage.hits)  # typing failed first
        assert any(r.path.endswith("/messages") for r in outage.hits)  # and the reply
        assert replies_to(fake, posted) == [reply] and took >= OUTAGE
        await answered(env)
    assert not errors_logged(caplog)
    figures.append(f"REST API cut for {OUTAGE} s after a mention: {len(outage.hits)} requests "
                   f"cut, the answer delivered {took:.1f} s after the question, once")


async def test_an_ask_answer_outlives_cut_followups_and_a_reply_503s(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, figures: list[str]
) -> None:
    """/ask's followups cut for OUTAGE seconds (the deferral went through), then a mention's
    replies answered 503 for as long (discord.py itself retries 500s and any 5xx of a
    followup for about 25 s, but neither of these)."""
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        outage = fake.inject_outage(OUTAGE, r"^/webhooks/")  # followups and their edits
        rec = await env.slash("ask", BRIDGE_QUESTION)
        start = time.monotonic()
        await fake.wait_for(lambda: (rec.response is not None and not rec.response.loading)
                            or None, OUTAGE + STEP, "the answer")
        took = time.monotonic() - start
        assert rec.response is not None and "Mayor Dana Reyes" in description(rec.response)
        assert outage.hits and len(rec.messages) == 1

        refusals = fake.inject_outage(OUTAGE, CHANNEL_MESSAGES, status=503)
        posted = await mention(fake, GUILD_A, CHANNEL_A, BOB, "what did Mayor Reyes say?")
        reply = await reply_to(fake, posted, OUTAGE + STEP)
        assert "Mayor Dana Reyes" in description(reply) and refusals.hits
        assert replies_to(fake, posted) == [reply]
    assert not errors_logged(caplog)
    figures.append(f"/ask followups cut for {OUTAGE} s: {len(outage.hits)} cut, the answer "
                   f"shown {took:.1f} s after the question; {len(refusals.hits)} 503s to a "
                   f"mention's reply, then answered "
                   f"{reply.created_at - posted.created_at:.1f} s after it")


async def test_a_send_that_landed_is_not_sent_twice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The reply (and the /ask followup) reaches Discord but the connection drops before its
    answer: the retry must not post the answer a second time."""
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        lost = fake.inject_error("POST", CHANNEL_MESSAGES, drop="after", when=has_embeds)
        posted = await mention(fake, GUILD_A, CHANNEL_A, BOB, "what did Mayor Reyes say?")
        await reply_to(fake, posted)
        sends = await fake.wait_for(lambda: [r for r in fake.requests if r.kind == "message"
                                             and has_embeds(r.body)][1:] or None, STEP)
        (first, *_), (again, *_) = lost.hits, sends
        assert first.body["nonce"] == again.body["nonce"] and again.status == 200
        assert len(replies_to(fake, posted)) == 1

        lost = fake.inject_error("POST", FOLLOWUPS, drop="after")
        rec = await env.slash("ask", BRIDGE_QUESTION)
        await fake.wait_for(lambda: [r for r in fake.requests if r.kind == "webhook_edit"
                                     and r.status == 200] or None, STEP, "the retry")
        assert lost.hits and len(rec.messages) == 1 and rec.response is not None
        assert "Mayor Dana Reyes" in description(rec.response) and not rec.response.loading
    assert not errors_logged(caplog)


async def test_an_answer_never_delivered_is_logged_once_with_its_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        env.bot.send_pauses = (0.1, 0.2)  # the retries of production, shortened
        outage = fake.inject_outage(STEP * 4, CHANNEL_MESSAGES)
        await mention(fake, GUILD_A, CHANNEL_A, BOB, "what did Mayor Reyes say?")
        await poll(lambda: logged(caplog, "bot", "not delivered"), STEP)
        assert len(outage.hits) == 3  # the first attempt and two retries
        outage.until = 0
        await answered(env)
    (line,) = logged(caplog, "bot", "not delivered")
    assert line.levelno == logging.WARNING and "ServerDisconnectedError" in line.getMessage()
    assert not line.exc_info and not errors_logged(caplog)


# -- a question deleted before its answer ---------------------------------------------------


async def test_an_answer_to_a_deleted_question_is_dropped_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot")
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        gated = GatedAnswerer(env.core.answerer)
        env.core.answerer = gated  # type: ignore[assignment]
        posted = await mention(fake, GUILD_A, CHANNEL_A, BOB, "what did Mayor Reyes say?")
        assert await asyncio.to_thread(gated.entered.acquire, timeout=STEP)
        await fake.delete_message(posted)
        gated.gate.set()
        await poll(lambda: logged(caplog, "bot", "deleted"), STEP)
        refused = [r for r in fake.requests if r.kind == "message"]
        assert [r.status for r in refused] == [400]  # no plain-text retry at a deleted message
        assert not replies_to(fake, posted) and not fake.threads
        await answered(env)
    assert len(logged(caplog, "bot", "deleted")) == 1 and not errors_logged(caplog)


# -- embeds refused ---------------------------------------------------------------------------


async def test_a_missing_embed_permission_falls_back_to_plain_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        refusal = fake.inject_error("POST", CHANNEL_MESSAGES, status=403, code=50013,
                                    message="Missing Permissions", when=has_embeds)
        posted = await mention(fake, GUILD_A, CHANNEL_A, BOB, "what did Mayor Reyes say?")
        text = await reply_to(fake, posted)
        assert refusal.hits and not text.embeds
        assert "This bridge connects two halves of a city" in text.content
    assert len(logged(caplog, "bot", "sent it as plain text")) == 1 and not errors_logged(caplog)


# -- text echoed from the question ----------------------------------------------------------

HOSTILE_QUESTION = ("what did\x00 Mayor Reyes say about [the bridge](https://evil.example) "
                    "@everyone\x07 <@&123456789012345678> <@234567890123456789> "
                    "<#345678901234567890>\x1b[31m @here discord.gg/raid")


def has_control(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" and c not in "\n" for c in text)


async def test_the_question_is_echoed_inert_in_the_answer_and_the_thread_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        posted = await mention(fake, GUILD_A, CHANNEL_A, BOB, HOSTILE_QUESTION)
        reply = await reply_to(fake, posted)
        rec = await env.slash("ask", {"question": HOSTILE_QUESTION + " " + "why " * 30})
        answer = await rec.wait_response(STEP)
        await fake.wait_for(lambda: fake.threads[1:] or None, STEP, "two threads")
        names = [str((r.body or {}).get("name")) for r in fake.requests if r.kind == "thread"]
        assert len(names) == len(fake.threads) == 2
        for name in names:
            assert RAW.search(name) is None and "](" not in name, name
            assert not has_control(name) and 1 <= len(name) <= 100, name
            assert "bridge" in name
        for message in (reply, answer):
            assert "bridge" in message.embeds[0]["title"]
        for body in fake.message_bodies():
            assert not any(has_control(text) for text in visible(body)), body
        assert_inert(fake)
    assert not errors_logged(caplog)


async def test_an_error_that_cannot_be_reported_is_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected error, and the API cut when the member is to be told: the error is logged
    once, and the failed report one warning line (not a second traceback)."""
    async with bot_env(tmp_path) as env:
        env.core.answerer = BrokenAnswerer()  # type: ignore[assignment]
        outage = env.fake.inject_outage(STEP * 4, r"^/webhooks/")
        await env.slash("ask", BRIDGE_QUESTION)
        await poll(lambda: logged(caplog, "bot", "could not report an error"), STEP)
        assert outage.hits
        outage.until = 0
    (error,) = errors_logged(caplog)
    assert error.name == "bot.discord.client" and "error in ask" in error.getMessage()
    (line,) = logged(caplog, "bot", "could not report an error")
    assert "ServerDisconnectedError" in line.getMessage()
