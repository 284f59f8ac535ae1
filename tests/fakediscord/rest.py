"""The fake REST API under /api/v10: users, application, commands, channels and messages.

Interaction callbacks and webhooks live in `webhooks.py`. The middleware here logs every
request, answers injected 429s and checks the bot token before any handler runs.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .gateway import peer_port
from .limits import message_errors
from .models import DM_CHANNEL, SEND_MESSAGES_IN_THREADS
from .records import ErrorRule, OutboundRequest
from .responses import (
    UNKNOWN_REFERENCE,
    error,
    invalid_body,
    json_response,
    no_content,
    rate_limited,
)

if TYPE_CHECKING:
    from .server import FakeDiscord

__all__ = ["API_PREFIX", "FILES", "RECORD", "Rest", "error", "invalid_body", "json_response",
           "no_content", "read_body"]

API_PREFIX = "/api/v10"
RECORD = web.RequestKey("record", OutboundRequest)
FILES = web.RequestKey("files", list)
# Webhook and interaction routes are authenticated by the token in their path, not a header.
_TOKENLESS = ("/webhooks/", "/interactions/")


async def read_body(request: web.Request) -> tuple[Any, list[tuple[str, bytes, str]]]:
    """The JSON body (payload_json for multipart) and any uploaded files."""
    files: list[tuple[str, bytes, str]] = []
    if request.content_type == "multipart/form-data":
        body: Any = None
        reader = await request.multipart()
        async for part in reader:
            if part.name == "payload_json":
                body = json.loads(await part.text())  # type: ignore[union-attr]
            elif getattr(part, "filename", None):
                ctype = part.headers.get("Content-Type", "application/octet-stream")
                files.append((part.filename, bytes(await part.read()), ctype))  # type: ignore
        return body, files
    raw = await request.read()
    return (json.loads(raw) if raw else None), files


class Rest:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def routes(self) -> list[web.RouteDef]:
        p = API_PREFIX
        return [
            web.get(p + "/users/@me", self.get_me),
            web.get(p + "/users/{user}", self.get_user),
            web.post(p + "/users/@me/channels", self.create_dm),
            web.get(p + "/oauth2/applications/@me", self.get_application),
            web.get(p + "/gateway", self.get_gateway),
            web.get(p + "/gateway/bot", self.get_bot_gateway),
            web.get(p + "/applications/{app}/commands", self.get_commands),
            web.put(p + "/applications/{app}/commands", self.put_commands),
            web.get(p + "/applications/{app}/guilds/{guild}/commands", self.get_commands),
            web.put(p + "/applications/{app}/guilds/{guild}/commands", self.put_commands),
            web.get(p + "/guilds/{guild}", self.get_guild),
            web.get(p + "/guilds/{guild}/members/{user}", self.get_member),
            web.get(p + "/channels/{channel}", self.get_channel),
            web.post(p + "/channels/{channel}/typing", self.typing),
            web.get(p + "/channels/{channel}/messages", self.list_messages),
            web.post(p + "/channels/{channel}/messages", self.post_message),
            web.get(p + "/channels/{channel}/messages/{message}", self.get_message),
            web.patch(p + "/channels/{channel}/messages/{message}", self.patch_message),
            web.delete(p + "/channels/{channel}/messages/{message}", self.delete_message),
            web.put(p + "/channels/{channel}/messages/{message}/reactions/{emoji}/@me", self.react),
            web.delete(
                p + "/channels/{channel}/messages/{message}/reactions/{emoji}/@me", self.unreact
            ),
        ]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        fake = self.fake
        path = request.path[len(API_PREFIX) :]
        body, files = await read_body(request)
        record = OutboundRequest(request.method, path, dict(request.query), body, time.monotonic())
        record.files = [name for name, _, _ in files]
        record.peer_port = peer_port(request)
        request[RECORD], request[FILES] = record, files
        fake.requests.append(record)
        response = self._respond_429(record)
        fault = None if response is not None else self._fault(record)
        if fault is not None and fault.drop == "before":
            record.kind = "dropped"
            return self._cut(request, record)
        if fault is not None and fault.drop is None:
            response = error(fault.status, fault.code, fault.message, fields=fault.errors)
        response = response or self._check_token(request, path)
        if response is None:
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # no such route, or wrong method
                fake.unhandled.append(record)
                response = error(exc.status, 0, f"{exc.status}: {exc.reason}")
        if fault is not None and fault.drop == "after":  # it landed; its answer is lost
            return self._cut(request, record)
        record.status = response.status
        fake.notifier.notify()
        return response

    def _respond_429(self, record: OutboundRequest) -> web.Response | None:
        for rule in self.fake.rate_limits:
            if len(rule.retries) < len(rule.hits) and rule.matches(record.method, record.path):
                rule.retries.append(record.at)
        for rule in self.fake.rate_limits:
            if rule.count > 0 and rule.matches(record.method, record.path):
                rule.count -= 1
                rule.hits.append(time.monotonic())
                record.kind = "rate_limited"
                return rate_limited(rule)
        return None

    def _fault(self, record: OutboundRequest) -> ErrorRule | None:
        """The injected fault this request meets, counted; None for most."""
        rule: ErrorRule | None = next(
            (r for r in self.fake.error_rules if r.matches(record.method, record.path, record.body)),
            None,
        )
        if rule is None:
            return None
        rule.count -= 1
        rule.hits.append(record)
        if rule.drop is None:
            record.kind = "refused"
        return rule

    def _cut(self, request: web.Request, record: OutboundRequest) -> web.Response:
        """Close the connection without an answer: the client sees the server disconnect."""
        record.dropped = True
        if request.transport is not None:
            request.transport.close()
        self.fake.notifier.notify()
        return web.Response(status=503)  # never written: the connection is gone

    def _check_token(self, request: web.Request, path: str) -> web.Response | None:
        if path.startswith(_TOKENLESS):
            return None
        if request.headers.get("Authorization") != f"Bot {self.fake.token}":
            return error(401, 0, "401: Unauthorized")
        return None

    # -- identity ---------------------------------------------------------------------------

    async def get_me(self, request: web.Request) -> web.Response:
        me = {**self.fake.bot_user.payload(), "verified": True, "mfa_enabled": False}
        return json_response(me)

    async def get_user(self, request: web.Request) -> web.Response:
        return json_response(self.fake.user(int(request.match_info["user"])).payload())

    async def get_application(self, request: web.Request) -> web.Response:
        fake = self.fake
        return json_response(
            {
                "id": str(fake.application_id),
                "name": fake.bot_user.name,
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": fake.user(fake.owner_id).payload(),
                "verify_key": "0" * 64,
                "team": None,
                "flags": 0,
                "rpc_origins": [],
                "interactions_endpoint_url": None,
                "bot": fake.bot_user.payload(),
            }
        )

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.fake.gateway_url})

    async def get_bot_gateway(self, request: web.Request) -> web.Response:
        """The gateway, with the shard count Discord recommends for this many servers."""
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": self.fake.gateway_url,
                              "shards": self.fake.recommended_shards,
                              "session_start_limit": limit})

    # -- application commands ---------------------------------------------------------------

    def _app_matches(self, request: web.Request) -> bool:
        return request.match_info["app"] == str(self.fake.application_id)

    async def get_commands(self, request: web.Request) -> web.Response:
        if not self._app_matches(request):
            return error(404, 10002, "Unknown Application")
        guild = request.match_info.get("guild")
        return json_response(self.fake.commands.get(int(guild) if guild else None, []))

    async def put_commands(self, request: web.Request) -> web.Response:
        if not self._app_matches(request):
            return error(404, 10002, "Unknown Application")
        request[RECORD].kind = "commands"
        guild = request.match_info.get("guild")
        guild_id = int(guild) if guild else None
        if guild_id is not None and guild_id not in self.fake.guilds:
            return error(403, 50001, "Missing Access")
        stored = [self.fake.store_command(c, guild_id) for c in request[RECORD].body or []]
        self.fake.commands[guild_id] = stored
        self.fake.command_syncs.append((guild_id, time.monotonic()))
        return json_response(stored)

    # -- guilds and channels ----------------------------------------------------------------

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self.fake.guilds.get(int(request.match_info["guild"]))
        if guild is None:
            return error(404, 10004, "Unknown Guild")
        return json_response(guild.rest_payload())

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self.fake.guilds.get(int(request.match_info["guild"]))
        user_id = int(request.match_info["user"])
        if guild is None or all(u.id != user_id for u in guild.members):
            return error(404, 10007, "Unknown Member")
        return json_response(guild.member_payload(self.fake.user(user_id)))

    async def get_channel(self, request: web.Request) -> web.Response:
        payload = self.fake.channel_payload(int(request.match_info["channel"]))
        return error(404, 10003, "Unknown Channel") if payload is None else json_response(payload)

    async def create_dm(self, request: web.Request) -> web.Response:
        user = self.fake.user(int((request[RECORD].body or {})["recipient_id"]))
        channel_id = self.fake.dm_channel(user.id)
        return json_response(
            {"id": str(channel_id), "type": DM_CHANNEL, "recipients": [user.payload()]}
        )

    async def typing(self, request: web.Request) -> web.Response:
        request[RECORD].kind = "typing"
        return no_content()

    # -- messages ---------------------------------------------------------------------------

    def _message(self, request: web.Request) -> Any:
        msg = self.fake.messages.get(int(request.match_info["message"]))
        channel_ok = msg is not None and msg.channel_id == int(request.match_info["channel"])
        if not channel_ok or msg.deleted_at is not None or msg.ephemeral:
            return None
        return msg

    async def list_messages(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", 50))
        found = self.fake.channel_messages(int(request.match_info["channel"]))
        return json_response([m.payload for m in reversed(found)][:limit])

    async def post_message(self, request: web.Request) -> web.Response:
        record: OutboundRequest = request[RECORD]
        record.kind = "message"
        channel_id = int(request.match_info["channel"])
        if self.fake.channel_payload(channel_id) is None:
            return error(404, 10003, "Unknown Channel")
        if self._thread_refuses(channel_id):
            return error(403, 50013, "Missing Permissions")
        body = record.body or {}
        files = request[FILES]
        errors = message_errors(body, files=len(files)) if self.fake.validate else []
        if errors:
            return invalid_body(errors)
        same = self._same_nonce(channel_id, body)
        if same is not None:  # Discord's enforce_nonce: the message the nonce already made
            return json_response(same.payload)
        reference = body.get("message_reference")
        if reference and not self._referable(channel_id, reference):
            if reference.get("fail_if_not_exists", True):
                return error(400, 50035, "Invalid Form Body", fields=UNKNOWN_REFERENCE)
            body = {k: v for k, v in body.items() if k != "message_reference"}
        msg = await self.fake.create_message(channel_id, body, files=request[FILES])
        if body.get("enforce_nonce") and body.get("nonce") is not None:
            self.fake.nonces[(channel_id, str(body["nonce"]))] = msg
        return json_response(msg.payload)

    def _same_nonce(self, channel_id: int, body: dict[str, Any]) -> Any:
        if not body.get("enforce_nonce") or body.get("nonce") is None:
            return None
        return self.fake.nonces.get((channel_id, str(body["nonce"])))

    def _referable(self, channel_id: int, reference: dict[str, Any]) -> bool:
        """Whether a reply's reference names a message that still exists."""
        msg = self.fake.messages.get(int(reference.get("message_id") or 0))
        return msg is not None and msg.deleted_at is None and not msg.ephemeral

    def _thread_refuses(self, channel_id: int) -> bool:
        """A thread the bot may not send messages in (by its channel's permissions)."""
        guild = self.fake.guild_of_channel(channel_id)
        channel = guild.channel(channel_id) if guild else None
        return bool(channel is not None and channel.is_thread
                    and not self.fake.bot_permissions_in(channel_id) & SEND_MESSAGES_IN_THREADS)

    async def get_message(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        return error(404, 10008, "Unknown Message") if msg is None else json_response(msg.payload)

    async def patch_message(self, request: web.Request) -> web.Response:
        record: OutboundRequest = request[RECORD]
        record.kind = "edit"
        msg = self._message(request)
        if msg is None:
            return error(404, 10008, "Unknown Message")
        if msg.author_id != self.fake.bot_user_id:
            return error(403, 50005, "Cannot edit a message authored by another user")
        errors = message_errors(record.body or {}, edit=True) if self.fake.validate else []
        if errors:
            return invalid_body(errors)
        await self.fake.edit_message(msg, record.body or {}, files=request[FILES])
        return json_response(msg.payload)

    async def delete_message(self, request: web.Request) -> web.Response:
        request[RECORD].kind = "delete"
        msg = self._message(request)
        if msg is None:
            return error(404, 10008, "Unknown Message")
        await self.fake.delete_message(msg)
        return no_content()

    async def react(self, request: web.Request) -> web.Response:
        request[RECORD].kind = "reaction"
        msg = self._message(request)
        if msg is None:
            return error(404, 10008, "Unknown Message")
        emoji = request.match_info["emoji"]
        if emoji not in msg.reactions:
            msg.reactions.append(emoji)
        return no_content()

    async def unreact(self, request: web.Request) -> web.Response:
        request[RECORD].kind = "reaction"
        msg = self._message(request)
        if msg is None:
            return error(404, 10008, "Unknown Message")
        if request.match_info["emoji"] in msg.reactions:
            msg.reactions.remove(request.match_info["emoji"])
        return no_content()
