"""Threads in the fake: starting a public thread on a message, as Discord runs it.

`POST /channels/{c}/messages/{m}/threads` checks what Discord checks (a text or announcement
channel, the message is there and has no thread yet, the bot may create public threads there,
a name of 1-100 characters, an allowed archive duration), stores the thread (its id is the
message's id), marks the message, and sends THREAD_CREATE. Messages in a thread go through
the ordinary message routes; sending one needs Send Messages in Threads in its channel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from .models import (
    CREATE_PUBLIC_THREADS,
    INTENT_GUILDS,
    NEWS_CHANNEL,
    PUBLIC_THREAD,
    TEXT_CHANNEL,
    FakeChannel,
)
from .records import OutboundRequest
from .rest import API_PREFIX, RECORD, error, invalid_body, json_response

if TYPE_CHECKING:
    from .server import FakeDiscord

HAS_THREAD = 1 << 5  # message flag
ARCHIVE_MINUTES = (60, 1440, 4320, 10080)
NAME_MAX = 100


class Threads:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def routes(self) -> list[web.RouteDef]:
        path = API_PREFIX + "/channels/{channel}/messages/{message}/threads"
        return [web.post(path, self.start_thread)]

    async def start_thread(self, request: web.Request) -> web.Response:
        record: OutboundRequest = request[RECORD]
        record.kind = "thread"
        fake = self.fake
        channel_id, message_id = (int(request.match_info[k]) for k in ("channel", "message"))
        guild = fake.guild_of_channel(channel_id)
        channel = guild.channel(channel_id) if guild else None
        if guild is None or channel is None:
            return error(404, 10003, "Unknown Channel")
        if channel.type not in (TEXT_CHANNEL, NEWS_CHANNEL):
            return error(400, 50024, "Cannot execute action on this channel type")
        msg = fake.messages.get(message_id)
        if msg is None or msg.channel_id != channel_id or msg.deleted_at is not None:
            return error(404, 10008, "Unknown Message")
        if guild.channel(message_id) is not None:
            return error(400, 160004, "A thread has already been created for this message")
        if not fake.bot_permissions_in(channel_id) & CREATE_PUBLIC_THREADS:
            return error(403, 50013, "Missing Permissions")
        body: dict[str, Any] = record.body or {}
        problems = _thread_errors(body)
        if problems:
            return invalid_body(problems)
        thread = FakeChannel(message_id, body["name"], PUBLIC_THREAD, parent_id=channel_id,
                             owner_id=fake.bot_user_id,
                             archive_minutes=int(body.get("auto_archive_duration") or 1440))
        guild.threads.append(thread)
        payload = thread.payload(guild.id)
        msg.payload["thread"] = payload
        msg.payload["flags"] = msg.flags | HAS_THREAD
        fake.notifier.notify()
        session = fake.gateway.session_for(guild.id)  # the shard holding the server
        if session is not None and session.intents & INTENT_GUILDS:
            await fake.gateway.dispatch("THREAD_CREATE", {**payload, "newly_created": True},
                                        session=session)
        return json_response(payload, 201)


def _thread_errors(body: dict[str, Any]) -> list[str]:
    name = body.get("name")
    problems = []
    if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX:
        problems.append(f"name: must be 1 to {NAME_MAX} characters")
    duration = body.get("auto_archive_duration")
    if duration is not None and duration not in ARCHIVE_MINUTES:
        problems.append(f"auto_archive_duration: must be one of {ARCHIVE_MINUTES}")
    return problems
