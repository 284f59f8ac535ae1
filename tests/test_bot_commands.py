"""End to end against the fake Discord: the real bot logs in, syncs, and serves every command,
the mention, the buttons and the message command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import discord
import pytest

from bot.discord import render
from bot.discord.sync import hash_key
from bot.discord.views import PAGE_NEXT, PAGE_PREV, VOTE_DOWN, VOTE_UP
from index.encode.embed import Embedder
from index.errors import BlockedURLError
from index.ingest.fetch import FetchedDocument
from retrieval.core import Core
from tests.fakediscord import point_discord_at
from tests.fakes import HashEmbedder
from tests.test_bot_support import (
    ALICE,
    BOB,
    BRIDGE,
    CHANNEL_A,
    GUILD_A,
    HARBOR_HTML,
    STEP,
    assert_no_mentions,
    bot_env,
    description,
    feedback_rows,
    make_fake,
    make_settings,
    running,
)

COMMANDS = {("ask", 1), ("add", 1), ("articles", 1), ("remove", 1), ("reindex", 1),
            ("citebot-help", 1), ("Add article", 3), ("feeds", 1), ("watch", 1),
            ("unwatch", 1), ("insights", 1)}


def shown(message: Any) -> render.ShownAnswer:
    return render.read_answer([discord.Embed.from_dict(e) for e in message.embeds])


# -- login and sync ------------------------------------------------------------------------


async def test_dev_guild_sync_at_start(tmp_path: Path) -> None:
    async with bot_env(tmp_path, dev_guild_id=GUILD_A) as env:
        assert env.bot.user is not None and env.bot.user.id == env.fake.bot_user_id
        assert [guild for guild, _ in env.fake.command_syncs] == [GUILD_A]
        assert {(c["name"], c["type"]) for c in env.fake.commands[GUILD_A]} == COMMANDS
        reindex = next(c for c in env.fake.commands[GUILD_A] if c["name"] == "reindex")
        assert str(reindex["default_member_permissions"]) == "32"  # Manage Server
        identify = env.fake.gateway.sessions[next(iter(env.fake.gateway.sessions))].identify
        assert identify["intents"] & (1 << 15) == 0  # no message-content intent
        assert env.urls and all(u.startswith(("http://127.0.0.1", "ws://127.0.0.1"))
                                for u in env.urls)


async def test_global_sync_only_when_the_commands_changed(tmp_path: Path) -> None:
    async with make_fake() as fake:
        with point_discord_at(fake.api_base, fake.gateway_url):
            settings = make_settings(tmp_path / "data")
            for start in range(3):
                core = Core.open(settings, embedder=HashEmbedder())
                try:
                    if start == 2:  # as if a new release changed a command
                        core.storage.meta_set(hash_key(fake.application_id), "old")
                    async with running(core, settings):
                        pass
                finally:
                    core.close()
    assert [guild for guild, _ in fake.command_syncs] == [None, None]  # starts 1 and 3
    assert {(c["name"], c["type"]) for c in fake.commands[None]} == COMMANDS


# -- add, then ask -------------------------------------------------------------------------


async def test_add_text_then_ask_returns_the_verbatim_quote(
    tmp_path: Path, real_embedder: Embedder
) -> None:
    async with bot_env(tmp_path, embedder=real_embedder) as env:
        title, _, text = BRIDGE.partition("\n")
        added = await env.add_text(title, text)
        assert added.deferred and added.response is not None
        assert added.response.content.startswith(f"Added: **{title}**")
        assert "3 paragraphs" in added.response.content
        rec = await env.slash("ask", {"question": "What did Mayor Reyes say about the bridge?"})
        await rec.wait_ack(STEP)
        assert rec.callback_type == 5  # deferred first
        reply = await rec.wait_response(STEP)
        answer = shown(reply)
        assert answer.question == "What did Mayor Reyes say about the bridge?"
        assert answer.quotes and all(q["text"] in BRIDGE for q in answer.quotes)
        assert any("This bridge connects two halves" in q["text"] for q in answer.quotes)
        assert reply.custom_ids == [VOTE_UP, VOTE_DOWN]
        assert len(reply.embeds) == 1 and "¶ 2" in description(reply)
        assert_no_mentions(env.fake)


async def test_add_file_and_the_size_check_before_download(tmp_path: Path) -> None:
    async with bot_env(tmp_path, max_article_bytes=1000) as env:
        doc = env.fake.add_attachment("bridge.txt", BRIDGE.encode()[:990], "text/plain")
        rec = await env.slash("add file", {"file": doc})
        assert (await rec.wait_response(STEP)).content.startswith(
            "Added: **Officials open new bridge after years of delay**")
        assert any(u.endswith("/bridge.txt") for u in env.urls)
        big = env.fake.add_attachment("big.txt", b"x" * 5000, "text/plain")
        rec = await env.slash("add file", {"file": big})
        reply = await rec.wait_response(STEP)
        assert reply.ephemeral and reply.content.startswith("Too large. big.txt is 5,000 bytes")
        assert not any(u.endswith("/big.txt") for u in env.urls)  # never downloaded
        pdf = env.fake.add_attachment("paper.pdf", b"%PDF", "application/pdf")
        reply = await (await env.slash("add file", {"file": pdf})).wait_response(STEP)
        assert reply.content.startswith("Not something citebot can read. paper.pdf")
        assert_no_mentions(env.fake)


@pytest.fixture
def offline_web(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Pages the URL fetcher serves instead of the network; other URLs are refused."""
    pages: dict[str, str] = {}

    def fetch(url: str, policy: Any = None, **_: Any) -> FetchedDocument:
        if url not in pages:
            raise BlockedURLError(f"{url} points to a private address, which is not allowed.")
        return FetchedDocument(url, url, "text/html", pages[url], "utf-8")

    monkeypatch.setattr("index.ingest.fetch.fetch", fetch)
    return pages


async def test_add_url_confirms_or_explains(tmp_path: Path, offline_web: dict[str, str]) -> None:
    offline_web["https://gazette.example/harbor"] = HARBOR_HTML
    async with bot_env(tmp_path) as env:
        rec = await env.slash("add url", {"url": "https://gazette.example/harbor"})
        reply = await rec.wait_response(STEP)
        assert reply.content.startswith("Added: **[Port Averly approves flood barrier]"
                                        "(<https://gazette.example/harbor>)**")
        assert "paragraphs" in reply.content
        rec = await env.slash("add url", {"url": "http://10.0.0.1/admin"})
        assert (await rec.wait_response(STEP)).content.startswith(
            "Could not fetch that page. http://10.0.0.1/admin points to a private address")
        rec = await env.slash("add url", {"url": "not a link"})
        reply = await rec.wait_response(STEP)
        assert reply.ephemeral and reply.content == (
            "Could not add that article. " + render.sanitize(render.BAD_URL))


async def test_add_article_message_command_adds_each_link(
    tmp_path: Path, offline_web: dict[str, str]
) -> None:
    offline_web["https://gazette.example/harbor"] = HARBOR_HTML
    async with bot_env(tmp_path) as env:
        posted = await env.fake.message(GUILD_A, CHANNEL_A, BOB, "see https://gazette.example/"
                                        "harbor and https://blocked.example/x.")
        rec = await env.fake.message_command(GUILD_A, CHANNEL_A, ALICE, "Add article", posted.id)
        lines = (await rec.wait_response(STEP)).content.split("\n")
        assert lines[0].startswith("\u2705 **[Port Averly approves flood barrier]")
        assert lines[1].startswith("\u274c <https://blocked.example/x>: https://blocked")
        (article,) = env.core.storage.list_articles(f"guild-{GUILD_A}")
        assert article.added_by == str(ALICE)
        plain = await env.fake.message(GUILD_A, CHANNEL_A, BOB, "no links here")
        rec = await env.fake.message_command(GUILD_A, CHANNEL_A, ALICE, "Add article", plain.id)
        reply = await rec.wait_response(STEP)
        assert reply.ephemeral and reply.content == render.NO_LINKS
        assert_no_mentions(env.fake)


# -- autocomplete, mention, DMs, help --------------------------------------------------------


async def test_article_autocomplete_and_restricting_ask_to_one_article(tmp_path: Path) -> None:
    async with bot_env(tmp_path, min_score=-1.0) as env:
        await env.add_text("Bridge opens", BRIDGE.partition("\n")[2])
        await env.add_text("Library hours", "The library will open until 9 p.m. on Saturdays.")
        rec = await env.fake.autocomplete(GUILD_A, CHANNEL_A, ALICE, "ask",
                                          {"question": "x", "article": "libr"}, "article")
        (choice,) = await rec.wait_choices(STEP)
        assert choice["name"] == "Library hours"
        rec = await env.fake.autocomplete(GUILD_A, CHANNEL_A, ALICE, "remove",
                                          {"article": ""}, "article")
        assert [c["name"] for c in await rec.wait_choices(STEP)] == [
            "Library hours", "Bridge opens"]
        rec = await env.slash("ask", {"question": "When does it open?",
                                      "article": choice["value"]})
        quotes = shown(await rec.wait_response(STEP)).quotes
        assert quotes and all("library" in q["text"].lower() for q in quotes)
        rec = await env.slash("ask", {"question": "When?", "article": "no such thing"})
        assert "No single article in this server matches" in (
            await rec.wait_response(STEP)).content


async def test_mention_with_a_question_gets_a_reply(tmp_path: Path) -> None:
    async with bot_env(tmp_path, min_score=-1.0) as env:
        await env.add_text("Bridge opens", BRIDGE.partition("\n")[2])
        fake = env.fake
        posted = await fake.message(GUILD_A, CHANNEL_A, BOB,
                                    f"{fake.bot_mention} what did Patel say about tolls?",
                                    mentions=[fake.bot_user_id])
        reply = await fake.wait_for_message(lambda m: bool(m.embeds), STEP)
        assert int(reply.payload["message_reference"]["message_id"]) == posted.id
        answer = shown(reply)
        assert answer.question == "what did Patel say about tolls?"
        assert any("tolls" in q["text"] for q in answer.quotes)
        assert reply.custom_ids == [VOTE_UP, VOTE_DOWN]
        await fake.message(GUILD_A, CHANNEL_A, BOB, "no mention, no reply")
        await fake.message(GUILD_A, CHANNEL_A, BOB, fake.bot_mention, mentions=[fake.bot_user_id])
        hint = await fake.wait_for_message(lambda m: m.content == render.EMPTY_QUESTION, STEP)
        assert hint.channel_id == CHANNEL_A
        assert len(fake.bot_messages()) == 3
        assert_no_mentions(fake)


async def test_dms_get_a_short_explanation(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        rec = await env.slash("ask", {"question": "anything?"}, guild=None)
        reply = await rec.wait_response(STEP)
        assert reply.content == render.DM_ONLY and reply.ephemeral
        await env.fake.message(None, None, BOB, "hello there")
        dm = await env.fake.wait_for_message(lambda m: m.content == render.DM_ONLY
                                             and not m.ephemeral, STEP)
        assert dm.channel_id == env.fake.dm_channels[BOB]


async def test_help_is_ephemeral(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        reply = await (await env.slash("citebot-help")).wait_response(STEP)
        assert reply.ephemeral and reply.embeds[0]["title"] == "citebot"
        assert any(f["name"].startswith("/ask") for f in reply.embeds[0]["fields"])


# -- buttons -------------------------------------------------------------------------------


async def test_feedback_buttons_record_votes_and_survive_a_restart(tmp_path: Path) -> None:
    async with make_fake() as fake:
        with point_discord_at(fake.api_base, fake.gateway_url):
            settings = make_settings(tmp_path / "data", min_score=-1.0)
            core = Core.open(settings, embedder=HashEmbedder())
            try:
                async with running(core, settings):
                    title, _, text = BRIDGE.partition("\n")
                    rec = await fake.slash(GUILD_A, CHANNEL_A, ALICE, "add text",
                                           {"title": title, "text": text})
                    await rec.wait_response(STEP)
                    rec = await fake.slash(GUILD_A, CHANNEL_A, ALICE, "ask",
                                           {"question": "What about the tolls?"})
                    answer = await rec.wait_response(STEP)
                    click = await fake.click(answer.id, VOTE_UP, user_id=BOB)
                    thanks = await click.wait_response(STEP)
                    assert thanks.ephemeral and thanks.content == render.feedback_thanks(1)
            finally:
                core.close()
            core = Core.open(settings, embedder=HashEmbedder())  # a new process, as it were
            try:
                async with running(core, settings):
                    click = await fake.click(answer.id, VOTE_DOWN, user_id=ALICE)
                    assert (await click.wait_response(STEP)).content == \
                        render.feedback_thanks(-1)
                    for vote in (VOTE_UP, VOTE_DOWN):  # Bob again: his vote changes, once
                        await (await fake.click(answer.id, vote, user_id=BOB)).wait_response(
                            STEP)
            finally:
                core.close()
    rows = feedback_rows(settings)
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        (f"guild-{GUILD_A}", "What about the tolls?", -1, str(BOB)),
        (f"guild-{GUILD_A}", "What about the tolls?", -1, str(ALICE)),
    ]
    assert rows[0][2] == rows[1][2] and "tolls" in rows[0][2]
    assert_no_mentions(fake)


async def test_articles_are_paged_with_buttons(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        for i in range(12):
            env.core.indexer.add_text(f"guild-{GUILD_A}", title=f"Story {i:02d}",
                                      text=f"Paragraph of story {i}.")
        reply = await (await env.slash("articles")).wait_response(STEP)
        assert reply.ephemeral and reply.embeds[0]["footer"]["text"] == "Page 1/2 · 12 articles"
        assert description(reply).startswith("Story 11")
        buttons = reply.components[0]["components"]
        assert [b.get("disabled", False) for b in buttons] == [True, False]
        click = await env.fake.click(reply.id, PAGE_NEXT, user_id=BOB)
        await click.wait_ack(STEP)
        await env.fake.wait_for(
            lambda: "Page 2/2" in reply.embeds[0]["footer"]["text"] or None, STEP)
        assert description(reply).startswith("Story 01") and "Story 00" in description(reply)
        click = await env.fake.click(reply.id, PAGE_PREV, user_id=BOB)
        await env.fake.wait_for(
            lambda: "Page 1/2" in reply.embeds[0]["footer"]["text"] or None, STEP)
        assert_no_mentions(env.fake)
