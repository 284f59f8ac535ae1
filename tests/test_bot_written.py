"""Written answers on Discord, end to end: the real bot against the fake Discord and the fake
language model (`tests.fakellm`). Every scripted case, by /ask and by mention: every body the
bot sent (the drafts' edits included) quotes only stored sentences, pings nobody and links
nothing but citations; drafts fill the message in at most once per `EDIT_INTERVAL_S`; every
failure ends in the quotes-only answer; with no model configured nothing changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.discord import render
from bot.discord.drafts import EDIT_INTERVAL_S
from bot.discord.views import VOTE_DOWN, VOTE_UP
from tests.fakediscord import MessageRecord
from tests.fakellm import FakeLLM, Prompt, Reply
from tests.llm_cases import (
    ARTICLES,
    CASES,
    QUESTION,
    REYES,
    STALL_S,
    Case,
    connections_to,
    model_threads,
    unsafe_shown,
    unverified_quotes,
)
from tests.test_bot_support import (
    BOB,
    CHANNEL_A,
    GUILD_A,
    STEP,
    Env,
    assert_no_mentions,
    bot_env,
    errors_logged,
    logged,
    mention,
    reply_to,
)

TIMEOUT_S = 2.0


@pytest.fixture
def scripted() -> Iterator[tuple[FakeLLM, list[Case]]]:
    current: list[Case] = []
    with FakeLLM(lambda prompt: current[-1].reply(prompt)) as llm:
        yield llm, current


def llm_options(llm: FakeLLM) -> dict[str, Any]:
    return {"llm_base_url": llm.base_url, "llm_model": "fake-model", "llm_timeout_s": TIMEOUT_S,
            "llm_passages": 10, "min_score": -1.0}


async def add_articles(env: Env) -> None:
    for article in ARTICLES:
        title, _, text = article.partition("\n")
        await asyncio.to_thread(env.core.indexer.add_text, f"guild-{GUILD_A}", title=title,
                                text=text)


def bodies_shown(msg: MessageRecord) -> list[str]:
    """Every version of a message the bot sent (create and edits), as a member reads it."""
    shown = []
    for body in msg.bodies:
        embeds = [discord.Embed.from_dict(e) for e in body.get("embeds") or []]
        text = "\n".join([body.get("content") or "", *(e.title or "" for e in embeds),
                          *(e.description or "" for e in embeds)])
        shown.append(render.unsanitize(text))
    return shown


def prose(msg: MessageRecord) -> str | None:
    """The model's prose the final version shows above the quotes, if any."""
    embeds = msg.bodies[-1].get("embeds") or []
    first = (embeds[0].get("description") or "") if embeds else ""
    return None if not first or first.startswith(("> ", render.NOT_FOUND)) else first


def assert_only_verified(msg: MessageRecord, case: str) -> None:
    for text in bodies_shown(msg):
        assert unverified_quotes(text) == [], (case, text)
        assert unsafe_shown(text) == [], (case, text)
        assert "evil.example" not in text and "discord.gg" not in text, (case, text)
        assert "@everyone" not in text.replace("@\u200deveryone", ""), (case, text)


def final(msg: MessageRecord) -> bool:
    return msg.custom_ids == [VOTE_UP, VOTE_DOWN]


async def test_every_scripted_case_by_slash_command(
        tmp_path: Path, scripted: tuple[FakeLLM, list[Case]]) -> None:
    llm, current = scripted
    async with bot_env(tmp_path, **llm_options(llm)) as env:
        await add_articles(env)
        for case in CASES:
            current.append(case)
            started = time.monotonic()
            rec = await env.slash("ask", {"question": case.question})
            reply = await env.fake.wait_for(
                lambda rec=rec: rec.response if rec.response and final(rec.response) else None,
                STEP, f"the final answer of {case.name}")
            elapsed = time.monotonic() - started
            assert_only_verified(reply, case.name)
            last = bodies_shown(reply)[-1]
            assert render.WRITING.strip("*") not in last
            if case.expect == "fallback":
                assert elapsed < STALL_S, case.name
                assert prose(reply) is None, case.name
            else:
                assert "**[1]**" in (prose(reply) or ""), (case.name, last)
                if case.expect == "partial":
                    assert "left out" in last, case.name
        assert_no_mentions(env.fake)


async def test_mentions_are_answered_the_same_way(
        tmp_path: Path, scripted: tuple[FakeLLM, list[Case]]) -> None:
    llm, current = scripted
    picked = [c for c in CASES if c.name in (
        "correct", "prompt injection in an article", "quotes stitched from two sentences",
        "broken stream", "timeout in the middle of a stream", "429 too many requests")]
    async with bot_env(tmp_path, **llm_options(llm)) as env:
        await add_articles(env)
        for case in picked:
            current.append(case)
            posted = await mention(env.fake, GUILD_A, CHANNEL_A, BOB, case.question)
            first = await reply_to(env.fake, posted)
            reply = await env.fake.wait_for(lambda m=first: m if final(m) else None, STEP,
                                            f"the final answer of {case.name}")
            assert_only_verified(reply, case.name)
            assert (prose(reply) is None) is (case.expect == "fallback"), case.name
        assert_no_mentions(env.fake)


def slow_writer(p: Prompt) -> Reply:
    """Four statements, written over about three seconds."""
    text = " ".join(f"Reyes said the bridge “connects two halves of a city” [{p.sid(REYES)}]."
                    for _ in range(4))  # every statement supported by the sentence it cites
    return Reply(text, pieces=12, pace_s=0.25)


@pytest.mark.clock
async def test_drafts_fill_the_message_in_under_the_edit_limit(tmp_path: Path) -> None:
    with FakeLLM(slow_writer) as llm:
        options = llm_options(llm) | {"llm_timeout_s": 20.0}
        async with bot_env(tmp_path, **options) as env:
            await add_articles(env)
            rec = await env.slash("ask", {"question": QUESTION})
            reply = await env.fake.wait_for(
                lambda: rec.response if rec.response and final(rec.response) else None,
                25.0, "the final answer")
            shown = bodies_shown(reply)
            drafts = [t for t in shown if render.WRITING.strip("*") in t]
            assert len(drafts) >= 2, shown  # it filled in as the model wrote
            said = "Reyes said the bridge"
            assert [t.count(said) for t in drafts] == sorted(t.count(said) for t in drafts)
            assert shown[-1].count(said) == 4 and "Writing" not in shown[-1]
            gaps = [b - a for a, b in zip(reply.edits, reply.edits[1:-1], strict=False)]
            assert all(g >= EDIT_INTERVAL_S - 0.1 for g in gaps), gaps  # drafts throttled
            assert_only_verified(reply, "slow writer")
            assert_no_mentions(env.fake)


def final_with_buttons(body: Any) -> bool:
    """The final version of an answer (it carries the vote buttons), with its embeds."""
    return bool(isinstance(body, dict) and body.get("embeds") and body.get("components"))


async def refused_final_answer(env: Env, ask: str) -> MessageRecord:
    """Ask QUESTION by `ask` ("slash" or "mention") with the final answer's embeds refused
    once; the message that showed its drafts, once it shows plain text."""
    fake = env.fake
    refusal = fake.inject_error("PATCH", r"/messages/", status=403, code=50013,
                                message="Missing Permissions", when=final_with_buttons)
    if ask == "slash":
        rec = await env.slash("ask", {"question": QUESTION})
        await fake.wait_for(lambda: refusal.count == 0 or None, 25.0, "the refusal")
        reply = await fake.wait_for(lambda: rec.response, STEP, "the answer")
    else:
        posted = await mention(fake, GUILD_A, CHANNEL_A, BOB, QUESTION)
        reply = await reply_to(fake, posted)
        await fake.wait_for(lambda: refusal.count == 0 or None, 25.0, "the refusal")
    last = reply.bodies
    return await fake.wait_for(lambda: reply if not last[-1].get("embeds")
                               and last[-1].get("content") else None, STEP, "plain text")


async def test_a_final_answer_whose_embeds_are_refused_replaces_its_draft_as_plain_text(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Drafts were shown (by /ask in the deferred message, by a mention in a reply); Discord
    then refuses the final answer's embeds (Missing Permissions): the draft is replaced by the
    answer in plain text, once, and nothing is logged as an error."""
    with FakeLLM(slow_writer) as llm:
        options = llm_options(llm) | {"llm_timeout_s": 20.0}
        async with bot_env(tmp_path, **options) as env:
            await add_articles(env)
            for ask in ("slash", "mention"):
                versions = bodies_shown(await refused_final_answer(env, ask))
                assert any(render.WRITING.strip("*") in v for v in versions), ask  # drafted
                assert "connects two halves of a city" in versions[-1], ask
                assert "Writing" not in versions[-1], ask
            assert_no_mentions(env.fake)
    assert len(logged(caplog, "bot", "sent it as plain text")) == 2
    assert not errors_logged(caplog)


async def test_no_model_configured_changes_nothing(tmp_path: Path) -> None:
    with FakeLLM(lambda p: Reply("never asked [S1].")) as llm:
        async with bot_env(tmp_path, min_score=-1.0) as env:
            assert not env.core.writes
            await add_articles(env)
            rec = await env.slash("ask", {"question": QUESTION})
            reply = await rec.wait_response(STEP)
            # the deferred message filled once, with the quotes-only answer, as before
            assert final(reply) and len(reply.bodies) == 2 and len(reply.edits) == 1
            assert prose(reply) is None and "Writing" not in str(reply.bodies)
        assert llm.requests == []


async def test_keepalive_streams_leave_no_thread_nor_connection_on_discord(
        tmp_path: Path) -> None:
    """Three /ask against a server that sends only keep-alive comments: each ends in the
    quotes-only answer at the deadline, and no reader thread nor connection is left."""
    with FakeLLM(lambda p: Reply(keepalive_s=0.05)) as llm:
        async with bot_env(tmp_path, **llm_options(llm)) as env:
            await add_articles(env)
            for n in range(3):
                rec = await env.slash("ask", {"question": QUESTION})
                reply = await env.fake.wait_for(
                    lambda rec=rec: rec.response if rec.response and final(rec.response)
                    else None, STEP, f"the final answer {n}")
                assert prose(reply) is None
                assert model_threads() == [] and connections_to(llm) == 0
        assert len(llm.requests) == 3
