"""Follow-up questions on Discord, end to end against the fake: a thread opened on every
answer, any message in it (with the message-content intent) or a mention or /ask there as a
follow-up, replies to an answer as a chain where threads are not allowed, the hint without
the intent, and conversations that survive a restart."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest

from bot.discord import render
from bot.discord.render_threads import CANNOT_READ
from index.encode.embed import Embedder
from retrieval.core import Core
from tests.conversation_texts import FERRY, FERRY_CHAIN, LIBRARY, SEED, SEED_CHAINS, Step, holds
from tests.conversation_texts import title_and_text as split_article
from tests.fakediscord import (
    BOT_PERMISSIONS,
    CREATE_PUBLIC_THREADS,
    FakeChannel,
    MessageRecord,
    point_discord_at,
)
from tests.test_bot_support import (
    ALICE,
    BOB,
    CHANNEL_A,
    GUILD_A,
    GUILD_B,
    STEP,
    Env,
    assert_no_mentions,
    bot_env,
    make_fake,
    make_settings,
    mention,
    poll,
    reply_to,
    running,
)

ANSWER = STEP * 3  # a real-model answer on a shared machine


def shown(message: MessageRecord) -> render.ShownAnswer:
    return render.read_answer([discord.Embed.from_dict(e) for e in message.embeds])


def first_quote(message: MessageRecord) -> str:
    quotes = shown(message).quotes
    return quotes[0]["text"] if quotes else ""


def footer(message: MessageRecord) -> str:
    return str((message.embeds[-1].get("footer") or {}).get("text", ""))


async def linked(env: Env, answer: MessageRecord) -> None:
    """Wait until the answer's message finds its conversation (linked just after sending;
    a person's reply comes seconds later)."""
    await poll(lambda: env.core.conversation(f"guild-{GUILD_A}", str(answer.id)), STEP)


async def add_articles(env: Env, guild: int = GUILD_A) -> None:
    for article in (FERRY, LIBRARY):
        title, text = split_article(article)
        await asyncio.to_thread(env.core.add_text, f"guild-{guild}", title=title, text=text)


async def ask_in_channel(env: Env, question: str) -> tuple[MessageRecord, FakeChannel]:
    """/ask in the channel; the answer and the thread opened on it."""
    answer = await (await env.slash("ask", {"question": question})).wait_response(ANSWER)
    thread = await env.fake.wait_for(
        lambda: next((t for t in env.fake.threads if t.id == answer.id), None), STEP)
    return answer, thread


async def follow_up_in(env: Env, thread: FakeChannel, steps: list[Step], **message: Any
                       ) -> list[MessageRecord]:
    """Each question posted in the thread; each reply's first quote holds the step's words."""
    replies = []
    for question, words in steps:
        posted = await env.fake.message(GUILD_A, thread.id, BOB, question, **message)
        reply = await reply_to(env.fake, posted, ANSWER)
        assert reply.channel_id == thread.id and holds(words, first_quote(reply)), (question, reply)
        replies.append(reply)
    return replies


async def test_every_answer_opens_a_thread_where_any_message_follows_up(
        tmp_path: Any, real_embedder: Embedder) -> None:
    async with bot_env(tmp_path, embedder=real_embedder, discord_message_content=True) as env:
        await add_articles(env)
        (question, words), *rest = FERRY_CHAIN
        answer, thread = await ask_in_channel(env, question)
        assert holds(words, first_quote(answer))
        assert (thread.parent_id, thread.owner_id, thread.name) == (
            CHANNEL_A, env.fake.bot_user_id, question)
        assert footer(answer) == "Follow up in the thread on this answer \u2014 no need to " \
                                 "mention me."
        replies = await follow_up_in(env, thread, rest[:2])
        assert footer(replies[0]) == "Read as: What did Ortiz say?"
        posted = await env.fake.message(GUILD_A, thread.id, BOB, "thanks!")  # small talk
        rec = await env.fake.slash(GUILD_A, thread.id, ALICE, "ask",  # /ask in the thread
                                   {"question": "When will the first ferry arrive?"})
        assert "in March" in first_quote(await rec.wait_response(ANSWER))
        mentioned = await mention(env.fake, GUILD_A, thread.id, ALICE, "when was that?")
        reply = await reply_to(env.fake, mentioned, ANSWER)
        assert "in March" in first_quote(reply) and footer(reply).startswith("Read as: When:")
        assert not [m for m in env.fake.bot_messages() if (m.payload.get(
            "message_reference") or {}).get("message_id") == str(posted.id)]
        assert len(env.fake.threads) == 1  # follow-ups open no threads of their own
        assert_no_mentions(env.fake)


async def test_where_threads_are_not_allowed_replies_to_an_answer_follow_up(
        tmp_path: Any, real_embedder: Embedder) -> None:
    no_threads = {"app_permissions": BOT_PERMISSIONS & ~CREATE_PUBLIC_THREADS}
    async with bot_env(tmp_path, embedder=real_embedder, discord_message_content=True,
                       fake_options=no_threads) as env:
        await add_articles(env)
        posted = await mention(env.fake, GUILD_A, CHANNEL_A, ALICE, FERRY_CHAIN[0][0])
        answer = await reply_to(env.fake, posted, ANSWER)
        assert "keeps the island connected" in first_quote(answer)
        assert footer(answer) == "Reply to this answer to follow up."
        for question, words in FERRY_CHAIN[1:3]:  # each a reply to the last answer, no ping
            await linked(env, answer)
            posted = await env.fake.message(GUILD_A, CHANNEL_A, BOB, question,
                                            reply_to=answer, ping=False)
            answer = await reply_to(env.fake, posted, ANSWER)
            assert holds(words, first_quote(answer)), question
        assert not env.fake.threads and not any(r.kind == "thread" for r in env.fake.requests)
        plain = await env.fake.message(GUILD_A, CHANNEL_A, BOB, "What else did she say?")
        other = await env.fake.message(GUILD_A, CHANNEL_A, ALICE, "and Hale?", reply_to=plain)
        await (await env.slash("citebot-help")).wait_response(STEP)  # the bot has caught up
        assert not [m for m in env.fake.bot_messages() if (m.payload.get(
            "message_reference") or {}).get("message_id") in (str(plain.id), str(other.id))]
        assert_no_mentions(env.fake)


async def test_a_refused_thread_leaves_the_answer_and_its_reply_chain(
        tmp_path: Any, real_embedder: Embedder) -> None:
    async with bot_env(tmp_path, embedder=real_embedder, discord_message_content=True) as env:
        await add_articles(env)
        env.fake.inject_error("POST", r"/threads$", status=403, code=50013,
                              message="Missing Permissions")
        answer = await (await env.slash("ask", {"question": FERRY_CHAIN[0][0]})
                        ).wait_response(ANSWER)
        await env.fake.wait_for_request(
            lambda r: r.path.endswith("/threads") and r.status == 403, STEP)
        posted = await env.fake.message(GUILD_A, CHANNEL_A, BOB, "What else did she say?",
                                        reply_to=answer)
        reply = await reply_to(env.fake, posted, ANSWER)
        assert "fares would stay" in first_quote(reply) and not env.fake.threads


async def test_without_the_message_content_intent_mentions_carry_the_follow_ups(
        tmp_path: Any, real_embedder: Embedder) -> None:
    async with bot_env(tmp_path, embedder=real_embedder) as env:
        await add_articles(env)
        answer, thread = await ask_in_channel(env, FERRY_CHAIN[0][0])
        assert footer(answer) == "Follow up in the thread on this answer: mention @citebot " \
                                 "there, or use /ask."
        for _ in range(2):
            await env.fake.message(GUILD_A, thread.id, BOB, "What else did she say?")
        hint = await env.fake.wait_for_message(lambda m: m.channel_id == thread.id, STEP)
        assert hint.content == CANNOT_READ.format(me="citebot")
        mentioned = await mention(env.fake, GUILD_A, thread.id, BOB, "What else did she say?")
        reply = await reply_to(env.fake, mentioned, ANSWER)
        assert "fares would stay" in first_quote(reply)
        hints = [m for m in env.fake.bot_messages() if m.content == hint.content]
        assert len(hints) == 1  # once per thread
        assert_no_mentions(env.fake)


async def test_conversations_survive_a_restart_and_stay_in_their_server(
        tmp_path: Any, real_embedder: Embedder) -> None:
    async with make_fake() as fake:
        with point_discord_at(fake.api_base, fake.gateway_url):
            settings = make_settings(tmp_path / "data", discord_message_content=True)
            for start in range(2):
                with Core.open(settings, embedder=real_embedder) as core:
                    async with running(core, settings) as bot:
                        env = Env(fake, bot, core, settings)
                        if start == 0:
                            await add_articles(env)
                            answer, thread = await ask_in_channel(env, FERRY_CHAIN[0][0])
                        else:  # a new process: the thread and its conversation carry on
                            await follow_up_in(env, thread, FERRY_CHAIN[1:3])
                            collection = f"guild-{GUILD_B}"
                            assert core.conversation(collection, str(answer.id)) is None
                            assert core.conversation(f"guild-{GUILD_A}", str(thread.id))


@pytest.mark.skipif(not SEED.exists(), reason="the shared seed article is not present")
async def test_seed_article_chains_on_discord(tmp_path: Any, real_embedder: Embedder) -> None:
    async with bot_env(tmp_path, embedder=real_embedder, discord_message_content=True) as env:
        await asyncio.to_thread(env.core.add_file, f"guild-{GUILD_A}", SEED)
        for chain in SEED_CHAINS:
            (question, words), *rest = chain
            answer, thread = await ask_in_channel(env, question)
            assert holds(words, first_quote(answer))
            await follow_up_in(env, thread, rest)
        assert_no_mentions(env.fake)
