"""`FakeDiscord`: the fake REST API + gateway on 127.0.0.1, and the handles tests hold.

Usage: `async with FakeDiscord(token=..., guilds=[FakeGuild(1)]) as fake:`, then run the bot
inside `point_discord_at(fake.api_base, fake.gateway_url)` and drive it with `fake.slash(...)`,
`rec.wait_response()`, `fake.outbound`, ...
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .gateway import Gateway, GatewaySession
from .inject import InjectMixin
from .models import (
    ATTACH_FILES,
    CREATE_PUBLIC_THREADS,
    EMBED_LINKS,
    MEMBER_PERMISSIONS,
    PRIVILEGED_INTENTS,
    FakeAttachment,
    FakeGuild,
    FakeRole,
    FakeUser,
    Snowflakes,
)
from .records import (
    ErrorRule,
    InteractionRecord,
    MessageRecord,
    Notifier,
    OutboundRequest,
    RateLimitRule,
)
from .rest import Rest
from .threads import Threads
from .webhooks import Webhooks

#: Permissions the bot has (its role in every guild, and `app_permissions` in interaction
#: payloads) unless told otherwise; a channel's `bot_permissions` overrides them there.
BOT_PERMISSIONS = MEMBER_PERMISSIONS | EMBED_LINKS | ATTACH_FILES | CREATE_PUBLIC_THREADS


class FakeDiscord(InjectMixin):
    """A fake Discord for one bot. Every list and dict here is public, for assertions."""

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        guilds: list[FakeGuild] | None = None,
        application_id: int | None = None,
        bot_name: str = "citebot",
        owner_id: int = 1,
        granted_intents: int = PRIVILEGED_INTENTS,
        app_permissions: int = BOT_PERMISSIONS,
        ack_deadline: float | None = 3.0,
        heartbeat_interval_ms: int = 41_250,
        validate: bool = True,
        echo_messages: bool = True,
        guilds_per_shard: int = 1000,
        max_guilds_per_shard: int | None = None,
    ) -> None:
        """`granted_intents`: privileged intents the application may use (IDENTIFY asking for
        others is closed with 4014). `ack_deadline`: seconds a bot has to answer an interaction
        (None: forever). `validate`: enforce Discord's size limits on what the bot sends.
        `echo_messages`: send MESSAGE_CREATE/UPDATE/DELETE for the bot's own messages.
        `guilds_per_shard`: servers per shard in the count GET /gateway/bot recommends (Discord
        aims at about 1,000). `max_guilds_per_shard`: an IDENTIFY whose session would hold more
        servers is closed with 4011, Sharding required (Discord's limit is 2,500)."""
        self.snowflakes = Snowflakes()
        self.token = token
        self.application_id = application_id or self.snowflakes.next()
        self.bot_user = FakeUser(self.application_id, bot_name, bot=True)
        self.owner_id = owner_id
        self.granted_intents = granted_intents
        self.app_permissions = app_permissions
        self.ack_deadline = ack_deadline
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.validate = validate
        self.echo_messages = echo_messages
        self.guilds_per_shard = guilds_per_shard
        self.max_guilds_per_shard = max_guilds_per_shard
        guilds = guilds if guilds is not None else [FakeGuild(self.snowflakes.next())]
        self.guilds: dict[int, FakeGuild] = {g.id: g for g in guilds}
        for guild in guilds:  # the role the bot gets when it is invited, as live
            if self.bot_user.id not in guild.member_roles:
                role = FakeRole(self.snowflakes.next(), bot_name, app_permissions, position=1)
                guild.roles.append(role)
                guild.member_roles[self.bot_user.id] = [role.id]
        self.users: dict[int, FakeUser] = {u.id: u for g in guilds for u in g.members}
        self.notifier = Notifier()
        self.requests: list[OutboundRequest] = []
        self.unhandled: list[OutboundRequest] = []
        self.messages: dict[int, MessageRecord] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.attachments: dict[int, FakeAttachment] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.command_syncs: list[tuple[int | None, float]] = []
        self.rate_limits: list[RateLimitRule] = []
        self.error_rules: list[ErrorRule] = []
        self.nonces: dict[tuple[int, str], MessageRecord] = {}  # (channel, nonce): enforced
        self.dm_channels: dict[int, int] = {}
        self.gateway = Gateway(self)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        rest, webhooks, threads = Rest(self), Webhooks(self), Threads(self)
        app = web.Application(middlewares=[rest.middleware], client_max_size=64 * 1024 * 1024)
        app.add_routes(rest.routes() + webhooks.routes() + threads.routes())
        app.add_routes(
            [
                web.get("/gateway", self.gateway.handle),
                web.get("/gateway/resume", self.gateway.handle),
                web.get("/attachments/{id}/{filename}", self._serve_attachment),
            ]
        )
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self.gateway.close_all()
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        """Where READY tells the client to resume: a distinct path, so tests can see it used."""
        return f"ws://127.0.0.1:{self.port}/gateway/resume"

    @property
    def recommended_shards(self) -> int:
        """The shard count GET /gateway/bot recommends."""
        return max(1, math.ceil(len(self.guilds) / self.guilds_per_shard))

    @property
    def bot_user_id(self) -> int:
        return self.bot_user.id

    @property
    def bot_mention(self) -> str:
        return f"<@{self.bot_user.id}>"

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        attachment = self.attachments.get(int(request.match_info["id"]))
        if attachment is None or attachment.filename != request.match_info["filename"]:
            return web.Response(status=404)
        return web.Response(body=attachment.data, headers={"Content-Type": attachment.content_type})

    # -- what the bot sent --------------------------------------------------------------------

    @property
    def outbound(self) -> list[OutboundRequest]:
        """Every request that carried a JSON body, in order."""
        return [r for r in self.requests if r.body is not None]

    def message_bodies(self) -> list[dict[str, Any]]:
        """Every message-shaped body the bot sent: creates, edits, followups, 4/7 callbacks."""
        return [b for r in self.outbound if (b := r.message_body) is not None]

    def interaction_by_token(self, token: str) -> InteractionRecord | None:
        return next((r for r in self.interactions.values() if r.token == token), None)

    async def wait_for(self, check: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
        """Wait until `check()` returns something other than None (re-checked on every change)."""
        return await self.notifier.wait_for(check, timeout, what or "condition")

    async def wait_for_request(
        self, predicate: Callable[[OutboundRequest], bool], timeout: float = 5.0
    ) -> OutboundRequest:
        def check() -> OutboundRequest | None:
            return next((r for r in self.requests if predicate(r)), None)

        return await self.wait_for(check, timeout, "a matching request")

    async def wait_for_message(
        self, predicate: Callable[[MessageRecord], bool], timeout: float = 5.0
    ) -> MessageRecord:
        """Wait for a bot-authored message (any channel, any route) matching `predicate`."""

        def check() -> MessageRecord | None:
            return next((m for m in self.bot_messages() if predicate(m)), None)

        return await self.wait_for(check, timeout, "a matching bot message")

    # -- rate limits --------------------------------------------------------------------------

    def inject_429(
        self,
        method: str,
        path_regex: str,
        *,
        retry_after: float = 1.0,
        scope: str = "user",
        count: int = 1,
    ) -> RateLimitRule:
        """Answer the next `count` requests whose method matches (or "*") and whose path below
        /api/v10 matches `path_regex` (re.search) with 429 and `retry_after` seconds."""
        if scope not in ("user", "shared", "global"):
            raise ValueError(f"scope must be user, shared or global, not {scope!r}")
        rule = RateLimitRule(
            method.upper(), re.compile(path_regex), retry_after, scope, count, secrets.token_hex(8)
        )
        self.rate_limits.append(rule)
        return rule

    # -- refusals -----------------------------------------------------------------------------

    def inject_error(
        self,
        method: str,
        path_regex: str,
        *,
        status: int = 400,
        code: int = 50035,
        message: str = "Invalid Form Body",
        count: int = 1,
        when: Callable[[Any], bool] | None = None,
        errors: dict[str, Any] | None = None,
        seconds: float | None = None,
        drop: str | None = None,
    ) -> ErrorRule:
        """Refuse the next `count` requests (or, with `seconds`, every request for that long)
        whose method matches (or "*"), whose path below /api/v10 matches `path_regex`
        (re.search) and whose JSON body passes `when` (if given) with `status` and a Discord
        error body (`errors`: which fields were refused, e.g. `{"embeds": {...}}`); set
        `rule.count = 0` (or `rule.until = 0`) to stop refusing. `drop`: cut the connection
        instead, "before" the request is handled or "after" (it landed, its answer is lost)."""
        if drop not in (None, "before", "after"):
            raise ValueError(f"drop must be None, before or after, not {drop!r}")
        until = None if seconds is None else time.monotonic() + seconds
        rule = ErrorRule(method.upper(), re.compile(path_regex), status, code, message, count,
                         when, errors=errors, until=until, drop=drop)
        self.error_rules.append(rule)
        return rule

    def inject_outage(self, seconds: float, path_regex: str = "", *, method: str = "*",
                      status: int | None = None) -> ErrorRule:
        """The REST API down for `seconds` from now (the gateway stays up), for requests whose
        method and path match (every one by default): each connection is cut without an
        answer, or, given `status` (500, 503, ...), answered with it."""
        if status is None:
            return self.inject_error(method, path_regex, seconds=seconds, drop="before")
        return self.inject_error(method, path_regex, status=status, code=0,
                                 message=f"{status}: Service Unavailable", seconds=seconds)

    # -- gateway ------------------------------------------------------------------------------

    @property
    def identify_count(self) -> int:
        return self.gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self.gateway.resume_count

    @property
    def connected(self) -> bool:
        session = self.gateway.current
        return session is not None and session.conn is not None

    async def wait_connected(self, timeout: float = 5.0) -> None:
        """Wait for a live, identified or resumed, gateway connection."""
        await self.wait_for(lambda: True if self.connected else None, timeout, "a gateway session")

    async def dispatch(self, event: str, data: Any, *, guild_id: int | None = None) -> int:
        """Send any gateway event, to the newest session or, given `guild_id`, to the session of
        that server's shard; queued for replay if that session is disconnected."""
        if guild_id is not None:
            return await self.gateway.dispatch_about(guild_id, event, data)
        return await self.gateway.dispatch(event, data)

    def shard_sessions(self) -> dict[int, GatewaySession]:
        """The newest valid session of each shard id (an unsharded one counts as shard 0)."""
        return self.gateway.shard_sessions()

    async def drop_connection(self, code: int | None = None) -> None:
        """Cut the gateway connection (abruptly by default) so the client resumes."""
        await self.gateway.drop_connection(code)

    def refuse_gateway(self, count: int, *, how: str = "reset") -> None:
        """Refuse the next `count` gateway connections: "reset" drops the socket before the
        websocket handshake, "http" answers the handshake with 503."""
        self.gateway.refuse(count, how)

    async def send_raw(self, text: str) -> None:
        """Send `text` as one frame on the live connection, as is (it need not be JSON)."""
        await self.gateway.send_raw(text)

    async def send_reconnect(self) -> None:
        await self.gateway.send_reconnect()

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        await self.gateway.invalidate_session(resumable=resumable)
