"""End to end: permissions, mention safety, Discord's size limits, cooldowns and quotas, and
the wall between servers."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot import render
from retrieval.models import Answer, Citation, Quote
from tests.fakediscord.limits import message_errors
from tests.test_bot_support import (
    ALICE,
    BOB,
    BRIDGE,
    CAROL,
    GUILD_A,
    GUILD_B,
    MANAGER,
    STEP,
    FixedAnswerer,
    assert_no_mentions,
    bot_env,
    description,
)

HOSTILE = """Council meeting turns rowdy

@everyone should read this: the council member shouted "@here" and pasted <@&123456789012345678> and <@234567890123456789> and <#345678901234567890> into the minutes.

Organisers asked everyone to join at discord.gg/freestuff, and the **budget** was ~~approved~~ [click](https://evil.example) by `vote`.
"""  # noqa: E501


async def test_reindex_needs_manage_server_at_run_time(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        denied = await env.slash("reindex", user=BOB)  # default_permissions aside, a client
        reply = await denied.wait_response(STEP)  # could still send it: checked here too
        assert reply.ephemeral and reply.content == render.MANAGE_SERVER
        assert denied.callback_type == 4
        allowed = await env.slash("reindex", user=CAROL, permissions=MANAGER)
        done = await allowed.wait_response(STEP)
        await env.fake.wait_for(lambda: "Reindexed 0 articles" in done.content or None, STEP)
        assert_no_mentions(env.fake)


async def test_remove_is_refused_to_a_stranger(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await env.add_text("First story", BRIDGE.partition("\n")[2], user=ALICE)
        await env.add_text("Second story", "The library extends its weekend hours.", user=ALICE)
        first, _ = env.core.storage.list_articles(f"guild-{GUILD_A}")[::-1]
        refused = await (await env.slash("remove", {"article": first.id}, user=BOB)
                         ).wait_response(STEP)
        assert refused.ephemeral and refused.content.startswith("Not allowed. Only the member")
        assert len(env.core.storage.list_articles(f"guild-{GUILD_A}")) == 2
        by_adder = await (await env.slash("remove", {"article": first.id}, user=ALICE)
                          ).wait_response(STEP)
        assert by_adder.content == "Removed **First story** from this server's articles."
        by_manager = await (await env.slash("remove", {"article": "Second story"}, user=BOB,
                                            permissions=MANAGER)).wait_response(STEP)
        assert by_manager.content.startswith("Removed **Second story**")
        assert env.core.storage.list_articles(f"guild-{GUILD_A}") == []


async def test_article_text_pings_nobody_and_renders_inert(tmp_path: Path) -> None:
    async with bot_env(tmp_path, min_score=-1.0) as env:
        title, _, text = HOSTILE.partition("\n")
        added = await env.add_text(title, text)
        assert added.response is not None and "Council meeting turns rowdy" in \
            added.response.content
        rec = await env.slash("ask", {"question": "@everyone what did the council member "
                                      "shout <@234567890123456789>?"})
        reply = await rec.wait_response(STEP)
        shown = description(reply) + reply.embeds[0]["title"]
        for raw in ("@everyone", "@here", "<@&", "<@2", "<#3", "discord.gg/", "**budget**",
                    "[click](https://evil"):
            assert raw not in shown, raw
        assert "@\u200deveryone" in shown
        posted = await env.fake.message(GUILD_A, None, BOB, "@everyone what was approved?",
                                        mentions=[env.fake.bot_user_id])
        await env.fake.wait_for_message(
            lambda m: (m.payload.get("message_reference") or {}).get("message_id")
            in (posted.id, str(posted.id)), STEP)
        rec = await env.slash("articles")
        await rec.wait_response(STEP)
        assert_no_mentions(env.fake)  # creates, followups, edits and callbacks alike
        for message in env.fake.bot_messages():
            assert message.payload["mention_everyone"] is False


async def test_an_answer_with_many_long_quotes_is_split_under_the_limits(tmp_path: Path) -> None:
    cite = Citation("a1", "A long report", "news.example", "https://news.example/report",
                    "2024-05-01", 3)
    quotes = tuple(Quote(f"Finding {i}: " + "the committee examined the figures " * 25
                         + f"and concluded item {i}.", cite, 0, 10, "Chair", 0.9)
                   for i in range(1, 11))
    answer = Answer("What did the report find?", True, quotes, ())
    async with bot_env(tmp_path) as env:
        env.core.answerer = FixedAnswerer(answer)  # type: ignore[assignment]
        rec = await env.slash("ask", {"question": "What did the report find?"})
        await rec.wait_response(STEP)
        pages = render.answer_pages(answer)
        messages = await rec.wait_messages(len(pages), STEP)
        assert len(messages) == len(pages) > 1
        for message in messages:
            assert message_errors({"embeds": message.embeds}) == []
        text = "\n".join(description(m) for m in messages)
        for q in quotes:
            assert text.count(render.sanitize(q.text)) == 1  # whole, once, never cut
        assert messages[0].custom_ids and not messages[1].custom_ids
        assert not [r for r in env.fake.requests if r.status == 400]
        assert_no_mentions(env.fake)


async def test_ask_cooldown_is_per_member(tmp_path: Path) -> None:
    async with bot_env(tmp_path, ask_cooldown_s=60.0) as env:
        first = await env.slash("ask", {"question": "What happened?"}, user=ALICE)
        await first.wait_response(STEP)
        again = await env.slash("ask", {"question": "And then?"}, user=ALICE)
        reply = await again.wait_response(STEP)
        assert reply.ephemeral and reply.content.startswith("Please wait 6")
        assert again.callback_type == 4  # refused before deferring
        other = await env.slash("ask", {"question": "What happened?"}, user=BOB)
        assert (await other.wait_response(STEP)).embeds


async def test_add_quota_is_per_server(tmp_path: Path) -> None:
    async with bot_env(tmp_path, add_quota_per_hour=2) as env:
        for i in range(2):
            await env.add_text(f"Story {i}", f"Paragraph number {i} of a story.")
        refused = await env.slash("add text", {"title": "Story 3", "text": "More."}, user=BOB)
        reply = await refused.wait_response(STEP)
        assert reply.ephemeral and reply.content.startswith(
            "This server has added 2 articles in the last hour, its limit; try again in 60 min")
        elsewhere = await env.add_text("Story 3", "More.", guild=GUILD_B)
        assert elsewhere.response is not None and elsewhere.response.content.startswith("Added")


async def test_servers_never_see_each_others_articles(tmp_path: Path) -> None:
    async with bot_env(tmp_path, min_score=-1.0) as env:
        title, _, text = BRIDGE.partition("\n")
        await env.add_text(title, text, guild=GUILD_A)
        (article,) = env.core.storage.list_articles(f"guild-{GUILD_A}")
        rec = await env.slash("ask", {"question": "What did Mayor Reyes say about the bridge?"},
                              guild=GUILD_B)
        reply = await rec.wait_response(STEP)
        assert description(reply).startswith("**Not found.** No article in this server")
        assert "bridge" not in description(reply).lower()
        rec = await env.fake.autocomplete(GUILD_B, None, ALICE, "ask",
                                          {"question": "x", "article": ""}, "article")
        assert await rec.wait_choices(STEP) == []
        rec = await env.slash("remove", {"article": article.id}, guild=GUILD_B, permissions=MANAGER)
        assert "No single article in this server matches" in (
            await rec.wait_response(STEP)).content
        rec = await env.slash("ask", {"question": "What did Mayor Reyes say?",
                                      "article": article.id}, guild=GUILD_B)
        assert "No single article" in (await rec.wait_response(STEP)).content
        rec = await env.slash("ask", {"question": "What did Mayor Reyes say?"}, guild=GUILD_A)
        assert "Mayor Dana Reyes" in description(await rec.wait_response(STEP))


class BrokenAnswerer:
    def ask(self, collection: str, question: str, **kw: object) -> Answer:
        raise RuntimeError("the index caught fire")


async def test_unexpected_errors_are_logged_once_and_explained(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with bot_env(tmp_path) as env:
        env.core.answerer = BrokenAnswerer()  # type: ignore[assignment]
        reply = await (await env.slash("ask", {"question": "Anything?"})).wait_response(STEP)
        assert reply.content == render.UNEXPECTED
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].name == "bot.client"
    assert errors[0].exc_info and "the index caught fire" in str(errors[0].exc_info[1])
