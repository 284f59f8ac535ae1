"""The fake Discord's threads and replies, against a real discord.py client: a thread started
on a message (Discord's rules and THREAD_CREATE), messages in it, replies that carry the
message they answer, and permissions that refuse both."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import discord
import pytest

from tests.fakediscord import (
    BOT_PERMISSIONS,
    CREATE_PUBLIC_THREADS,
    SEND_MESSAGES_IN_THREADS,
    FakeDiscord,
    point_discord_at,
)
from tests.test_fakediscord import (
    CHANNEL_ID,
    GUILD_ID,
    STEP,
    TOKEN,
    USER_ID,
    TinyBot,
    make_fake,
    running,
)

AUTH = {"Authorization": f"Bot {TOKEN}"}


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]
               ) -> tuple[int, Any]:
    async with session.post(url, headers=AUTH, json=body) as resp:
        return resp.status, await resp.json()


@pytest.mark.asyncio
async def test_a_thread_is_started_on_a_message_as_discord_does() -> None:
    async with make_fake() as fake:
        with point_discord_at(fake.api_base, fake.gateway_url):
            async with running(TinyBot()) as bot, aiohttp.ClientSession() as session:
                messages = f"{fake.api_base}/channels/{CHANNEL_ID}/messages"
                status, answer = await post(session, messages, {"content": "an answer"})
                threads = f"{messages}/{answer['id']}/threads"
                status, body = await post(session, threads, {"name": "x" * 101})
                assert (status, body["code"]) == (400, 50035)
                status, body = await post(session, threads, {"name": "Q?",
                                                             "auto_archive_duration": 60})
                assert status == 201 and body["id"] == answer["id"] and body["type"] == 11
                assert body["parent_id"] == str(CHANNEL_ID)
                assert body["owner_id"] == str(fake.bot_user_id)
                status, body = await post(session, threads, {"name": "again"})
                assert (status, body["code"]) == (400, 160004)
                thread_id = int(answer["id"])
                thread = await fake.wait_for(lambda: bot.get_channel(thread_id), STEP)
                assert isinstance(thread, discord.Thread) and thread.name == "Q?"
                assert fake.messages[thread_id].payload["thread"]["id"] == answer["id"]
                await thread_messages_and_replies(fake, bot, thread_id)


async def thread_messages_and_replies(fake: FakeDiscord, bot: TinyBot, thread_id: int) -> None:
    posted = await fake.message(GUILD_ID, thread_id, USER_ID, "in the thread")
    seen = await asyncio.wait_for(bot.seen.get(), STEP)
    assert seen.id == posted.id and isinstance(seen.channel, discord.Thread)
    assert seen.content == ""  # Intents.default(): no message content, not mentioned
    answer = fake.messages[thread_id]
    reply = await fake.message(GUILD_ID, CHANNEL_ID, USER_ID, "a reply", reply_to=answer)
    seen = await asyncio.wait_for(bot.seen.get(), STEP)
    assert seen.reference is not None and seen.reference.message_id == thread_id
    assert isinstance(seen.reference.resolved, discord.Message)
    assert seen.content == "a reply" and bot.user in seen.mentions  # the reply pings
    quiet = await fake.message(GUILD_ID, CHANNEL_ID, USER_ID, "quiet", reply_to=answer,
                               ping=False)
    seen = await asyncio.wait_for(bot.seen.get(), STEP)
    assert seen.id == quiet.id and seen.content == "" and bot.user not in seen.mentions
    assert reply.payload["referenced_message"]["id"] == str(thread_id)


@pytest.mark.asyncio
async def test_permissions_refuse_threads_and_messages_in_them() -> None:
    async with make_fake(app_permissions=BOT_PERMISSIONS & ~CREATE_PUBLIC_THREADS) as fake, \
            aiohttp.ClientSession() as session:
        messages = f"{fake.api_base}/channels/{CHANNEL_ID}/messages"
        _, answer = await post(session, messages, {"content": "an answer"})
        status, body = await post(session, f"{messages}/{answer['id']}/threads", {"name": "Q"})
        assert (status, body["code"]) == (403, 50013) and not fake.threads
        fake.app_permissions = BOT_PERMISSIONS & ~SEND_MESSAGES_IN_THREADS | CREATE_PUBLIC_THREADS
        status, _ = await post(session, f"{messages}/{answer['id']}/threads", {"name": "Q"})
        assert status == 201
        status, body = await post(session, f"{fake.api_base}/channels/{answer['id']}/messages",
                                  {"content": "in the thread"})
        assert (status, body["code"]) == (403, 50013)
        status, body = await post(session, f"{fake.api_base}/channels/{answer['id']}/messages/"
                                  f"{answer['id']}/threads", {"name": "nested"})
        assert (status, body["code"]) == (400, 50024)  # no thread inside a thread
