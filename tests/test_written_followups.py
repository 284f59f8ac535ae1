"""Follow-ups with a language model: `citebot chat` and a thread on Discord, against the fake
model (`tests.fakellm`). The model first makes the follow-up standalone; citebot retrieves
with it, and verifies what the model then writes, as for any question."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import discord
import pytest

from bot import render
from tests.conftest import Cli
from tests.fakellm import FakeLLM, Prompt, Reply
from tests.llm_cases import ARTICLES, QUESTION, REYES, unverified_quotes
from tests.test_bot_support import BOB, GUILD_A, STEP, assert_no_mentions, bot_env, reply_to

FIRST = "Who opened the Marlow bridge?"
FOLLOW_UP = "What did she say?"


def script(p: Prompt) -> Reply:
    if p.rewrite:
        return Reply(QUESTION if FOLLOW_UP in p.user else "?")
    if p.question == QUESTION:
        return Reply(f"Reyes said the bridge “connects two halves of a city” [{p.sid(REYES)}]. "
                     f"She also said it “will pay for itself” [{p.sid(REYES)}].")
    return Reply(f"Mayor Dana Reyes cut the ribbon at the opening [{p.sid(REYES)}].")


def test_chat_rewrites_follow_ups_with_the_model(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeLLM(script) as llm:
        for name, value in {"LLM_BASE_URL": llm.base_url, "LLM_MODEL": "fake-model",
                            "LLM_TIMEOUT_S": "5", "LLM_PASSAGES": "10",
                            "MIN_SCORE": "-1"}.items():
            monkeypatch.setenv(f"CITEBOT_{name}", value)
        for i, article in enumerate(ARTICLES):
            (tmp_path / f"a{i}.txt").write_text(article)
            assert cli("add", str(tmp_path / f"a{i}.txt"))[0] == 0
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(
            f"{FIRST}\n{FOLLOW_UP}\n".encode())))
        code, out, err = cli("chat")
        rewrites = [p for p in llm.requests if p.rewrite]
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(
            f"{FIRST}\n{FOLLOW_UP}\n".encode())))
        plain = cli("chat", "--no-llm")[1]
    assert code == 0 and not err
    assert len(rewrites) == 1 and f"(read as: {QUESTION})" in out
    flat = " ".join(out.split())
    assert "connects two halves of a city" in flat and "left out" in flat  # invented dropped
    assert "will pay for itself" not in out and unverified_quotes(out) == []
    assert f"(read as: {QUESTION})" not in plain and "left out" not in plain


async def test_thread_follow_ups_are_rewritten_written_and_verified(tmp_path: Path) -> None:
    with FakeLLM(script) as llm:
        options: dict[str, Any] = {
            "llm_base_url": llm.base_url, "llm_model": "fake-model", "llm_timeout_s": 5.0,
            "llm_passages": 10, "min_score": -1.0, "discord_message_content": True}
        async with bot_env(tmp_path, **options) as env:
            for article in ARTICLES:
                title, _, text = article.partition("\n")
                await asyncio.to_thread(env.core.add_text, f"guild-{GUILD_A}", title=title,
                                        text=text)
            rec = await env.slash("ask", {"question": FIRST})
            answer = await env.fake.wait_for(
                lambda: rec.response if rec.response and rec.response.custom_ids else None,
                STEP)
            thread = await env.fake.wait_for(
                lambda: next((t for t in env.fake.threads if t.id == answer.id), None), STEP)
            posted = await env.fake.message(GUILD_A, thread.id, BOB, FOLLOW_UP)
            first = await reply_to(env.fake, posted)
            reply = await env.fake.wait_for(lambda: first if first.custom_ids else None, STEP)
            assert_no_mentions(env.fake)
    final = reply.embeds[-1]
    assert (final.get("footer") or {}).get("text") == f"Read as: {QUESTION}"
    description = render.unsanitize(reply.embeds[0]["description"])
    assert "connects two halves of a city" in description and "left out" in description
    for body in [*answer.bodies, *reply.bodies]:
        embeds = [discord.Embed.from_dict(e) for e in body.get("embeds") or []]
        text = render.unsanitize("\n".join(e.description or "" for e in embeds))
        assert unverified_quotes(text) == [], text
    assert [p.rewrite for p in llm.requests] == [False, True, False]
