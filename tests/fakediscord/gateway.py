"""The fake gateway: one websocket endpoint speaking Discord's gateway protocol v10.

HELLO -> (HEARTBEAT/ACK) -> IDENTIFY -> READY + GUILD_CREATE..., or RESUME -> replay -> RESUMED.
Every DISPATCH goes into the session's log first, so events sent while the bot is disconnected
are replayed when it resumes.

Sharding as Discord does it: an IDENTIFY may carry `shard: [id, count]` (closed with 4010 if
it does not fit; 4011 when a shard, or the unsharded session, would hold more than
`FakeDiscord.max_guilds_per_shard` servers). A session then holds only the servers with
`(guild_id >> 22) % count == id`, in READY and GUILD_CREATE, and an event about a server goes
only to the newest valid session holding it (`session_for`); direct messages go to shard 0. Frames are zlib-stream or zstd-stream compressed when the client
asks for it in the URL query (`compress=`), plain text otherwise.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .models import INTENT_GUILD_MEMBERS, PRIVILEGED_INTENTS, FakeGuild

if TYPE_CHECKING:
    from .server import FakeDiscord

try:
    import zstandard
except ImportError:  # pragma: no cover - depends on the environment
    zstandard = None

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE_STATE = 0, 1, 2, 3, 4
RESUME, RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 6, 7, 8, 9, 10, 11


class _Encoder:
    """Turns frames into websocket messages for one connection's compression mode."""

    def __init__(self, mode: str | None) -> None:
        self.mode: str | None = None
        self._compress: Any = None
        if mode == "zlib-stream":
            self.mode, self._compress = mode, zlib.compressobj()
        elif mode == "zstd-stream" and zstandard is not None:
            self.mode, self._compress = mode, zstandard.ZstdCompressor().compressobj()

    def encode(self, text: str) -> bytes | str:
        if self.mode is None:
            return text
        raw = text.encode()
        if self.mode == "zlib-stream":
            return self._compress.compress(raw) + self._compress.flush(zlib.Z_SYNC_FLUSH)
        flush = zstandard.COMPRESSOBJ_FLUSH_BLOCK  # type: ignore[union-attr]
        return self._compress.compress(raw) + self._compress.flush(flush)


@dataclass(eq=False)
class Connection:
    """One websocket connection, as the tests may inspect it afterwards."""

    ws: web.WebSocketResponse
    path: str
    query: dict[str, str]
    encoder: _Encoder
    transport: asyncio.BaseTransport | None = None
    peer_port: int | None = None  # the client's port on 127.0.0.1 (which process it is)
    opened_at: float = field(default_factory=time.monotonic)
    session: GatewaySession | None = None
    closed: bool = False
    close_code: int | None = None  # the client's close code, or ours if the fake closed first
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def compression(self) -> str | None:
        return self.encoder.mode

    async def send(self, frame: dict[str, Any]) -> bool:
        """Send one frame; False if the connection is gone (the frame stays in the log)."""
        if self.closed or self.ws.closed:
            return False
        async with self.lock:  # compression is a stream: encode and send in one order
            message = self.encoder.encode(json.dumps(frame))
            try:
                if isinstance(message, bytes):
                    await self.ws.send_bytes(message)
                else:
                    await self.ws.send_str(message)
            except (ConnectionError, RuntimeError):
                self.closed = True
                return False
        return True


@dataclass(eq=False)
class GatewaySession:
    id: str
    intents: int
    identify: dict[str, Any]
    seq: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    conn: Connection | None = None
    valid: bool = True
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    shard: tuple[int, int] | None = None  # (id, count) from IDENTIFY; None: every server

    def holds(self, guild_id: int | None) -> bool:
        """Whether events about this server (None: a direct message) come to this session."""
        if self.shard is None:
            return True
        shard_id, count = self.shard
        return shard_id == (0 if guild_id is None else shard_of(guild_id, count))


def peer_port(request: web.Request) -> int | None:
    """The port the client sent `request` from."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return int(peer[1]) if peer else None


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard that holds a server, by Discord's rule."""
    return (guild_id >> 22) % shard_count


def parse_shard(value: Any) -> tuple[int, int] | None:
    """IDENTIFY's `shard` as (id, count); None if it is not a valid pair."""
    if not (isinstance(value, list) and len(value) == 2):
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return None
    shard_id, count = value
    return (shard_id, count) if 0 <= shard_id < count else None


class Gateway:
    """Gateway state and handlers; `FakeDiscord` exposes the controls."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.connections: list[Connection] = []
        self.sessions: dict[str, GatewaySession] = {}
        self.current: GatewaySession | None = None
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeat_count = 0
        self.close_codes_sent: list[int] = []
        self.presence_updates: list[dict[str, Any]] = []
        self.refusals = 0  # connections still to refuse
        self.refuse_how = "reset"
        self.refused: list[float] = []  # when each refused connection came

    # -- the websocket handler ------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.refusals > 0:
            return self._refuse(request)
        ws = web.WebSocketResponse(timeout=2.0, max_msg_size=0)
        await ws.prepare(request)
        query = dict(request.query)
        encoder = _Encoder(query.get("compress"))
        conn = Connection(ws, request.path, query, encoder, transport=request.transport,
                          peer_port=peer_port(request))
        self.connections.append(conn)
        self.fake.notifier.notify()
        hello = {"heartbeat_interval": self.fake.heartbeat_interval_ms}
        await conn.send({"op": HELLO, "d": hello, "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                await self._on_frame(conn, json.loads(msg.data))
        finally:
            conn.closed = True
            conn.close_code = ws.close_code
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
            self.fake.notifier.notify()
        return ws

    def _refuse(self, request: web.Request) -> web.Response:
        self.refusals -= 1
        self.refused.append(time.monotonic())
        self.fake.notifier.notify()
        if self.refuse_how == "reset" and request.transport is not None:
            request.transport.abort()  # type: ignore[attr-defined]
        return web.Response(status=503, text="gateway unavailable")

    async def _on_frame(self, conn: Connection, frame: dict[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == HEARTBEAT:
            self.heartbeat_count += 1
            await conn.send({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == IDENTIFY:
            await self._identify(conn, data or {})
        elif op == RESUME:
            await self._resume(conn, data or {})
        elif conn.session is None:
            await self._close(conn, 4003, "Not authenticated.")
        elif op == REQUEST_MEMBERS:
            await self._send_member_chunk(conn.session, data or {})
        elif op in (PRESENCE, VOICE_STATE):
            self.presence_updates.append(data or {})
        else:
            await self._close(conn, 4001, "Unknown opcode.")
        self.fake.notifier.notify()

    async def _close(self, conn: Connection, code: int, reason: str) -> None:
        self.close_codes_sent.append(code)
        conn.closed = True
        await conn.ws.close(code=code, message=reason.encode())

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
        if conn.session is not None:
            await self._close(conn, 4005, "Already authenticated.")
            return
        if data.get("token") != self.fake.token:
            await self._close(conn, 4004, "Authentication failed.")
            return
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.fake.granted_intents:
            await self._close(conn, 4014, "Disallowed intent(s).")
            return
        shard = parse_shard(data["shard"]) if "shard" in data else None
        if "shard" in data and shard is None:
            await self._close(conn, 4010, "Invalid shard.")
            return
        session = GatewaySession(secrets.token_hex(16), intents, data, shard=shard)
        limit = self.fake.max_guilds_per_shard
        if limit is not None and len(self._guilds_of(session)) > limit:
            await self._close(conn, 4011, "Sharding required.")
            return
        self.identify_count += 1
        self.sessions[session.id] = session
        self.current = session
        conn.session = session
        async with session.lock:
            session.conn = conn
            await self._dispatch_locked(session, "READY", self._ready_payload(session, data))
            with_members = bool(intents & INTENT_GUILD_MEMBERS)
            for guild in self._guilds_of(session):
                payload = guild.gateway_payload(self.fake.bot_user, with_members=with_members)
                await self._dispatch_locked(session, "GUILD_CREATE", payload)

    def _guilds_of(self, session: GatewaySession) -> list[FakeGuild]:
        return [g for g in self.fake.guilds.values() if session.holds(g.id)]

    def session_for(self, guild_id: int | None) -> GatewaySession | None:
        """The session events about this server (None: a direct message) go to: the newest
        valid one holding it, connected or waiting to resume."""
        holding = [s for s in reversed(self.sessions.values()) if s.holds(guild_id)]
        # An invalidated session is used only when no valid one holds the server (between an
        # op 9 and the next IDENTIFY): the event goes into its log, never delivered.
        return next((s for s in holding if s.valid), holding[0] if holding else None)

    def shard_sessions(self) -> dict[int, GatewaySession]:
        """The newest valid session of each shard id (an unsharded session counts as 0)."""
        found: dict[int, GatewaySession] = {}
        for session in self.sessions.values():
            if session.valid:
                found[session.shard[0] if session.shard else 0] = session
        return found

    def _ready_payload(self, session: GatewaySession, identify: dict[str, Any]) -> dict[str, Any]:
        user = {**self.fake.bot_user.payload(), "verified": True, "mfa_enabled": False}
        ready: dict[str, Any] = {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in self._guilds_of(session)],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.fake.resume_gateway_url,
            "application": {"id": str(self.fake.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "auth": {},
        }
        if "shard" in identify:
            ready["shard"] = identify["shard"]
        return ready

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> None:
        if data.get("token") != self.fake.token:
            await self._close(conn, 4004, "Authentication failed.")
            return
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or not session.valid:
            await conn.send({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        self.resume_count += 1
        conn.session = session
        async with session.lock:
            old = session.conn
            if old is not None and old is not conn:
                old.closed = True
                await old.ws.close(code=4000)
            since = int(data.get("seq") or 0)
            for frame in session.log:
                if frame["s"] > since:
                    await conn.send(frame)
            session.conn = conn
            await self._dispatch_locked(session, "RESUMED", {})

    async def _send_member_chunk(self, session: GatewaySession, data: dict[str, Any]) -> None:
        guild = self.fake.guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        users = [self.fake.bot_user, *guild.members]
        if data.get("user_ids"):
            wanted = {int(u) for u in data["user_ids"]}
            users = [u for u in users if u.id in wanted]
        elif data.get("query"):
            users = [u for u in users if u.name.lower().startswith(str(data["query"]).lower())]
        chunk = {
            "guild_id": str(guild.id),
            "members": [guild.member_payload(u) for u in users],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if "nonce" in data:
            chunk["nonce"] = data["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk, session=session)

    # -- sending events -------------------------------------------------------------------

    async def _dispatch_locked(self, session: GatewaySession, event: str, data: Any) -> int:
        session.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.log.append(frame)
        if session.conn is not None:
            await session.conn.send(frame)
        return session.seq

    async def dispatch(
        self, event: str, data: Any, *, session: GatewaySession | None = None
    ) -> int:
        """Send (or, while disconnected, queue for replay) one DISPATCH; return its sequence."""
        session = session or self.current
        if session is None:
            raise RuntimeError("fake discord: no gateway session yet (has the bot connected?)")
        async with session.lock:
            return await self._dispatch_locked(session, event, data)

    async def dispatch_about(self, guild_id: int | None, event: str, data: Any) -> int:
        """Send an event about one server (None: a direct message) to the session holding it."""
        session = self.session_for(guild_id)
        if session is None:
            raise RuntimeError(f"fake discord: no gateway session holds server {guild_id} "
                               "(has the bot, or the process serving its shard, connected?)")
        async with session.lock:
            return await self._dispatch_locked(session, event, data)

    # -- controls ---------------------------------------------------------------------------

    def _live(self) -> Connection:
        session = self.current
        if session is None or session.conn is None:
            raise RuntimeError("fake discord: no live gateway connection")
        return session.conn

    async def drop_connection(self, code: int | None = None) -> None:
        """Cut the live connection: abruptly (no close frame) or with close `code`."""
        conn = self._live()
        assert conn.session is not None
        conn.session.conn = None
        conn.closed = True
        if code is None:
            if conn.transport is not None:
                conn.transport.abort()  # type: ignore[attr-defined]
        else:
            self.close_codes_sent.append(code)
            await conn.ws.close(code=code)

    def refuse(self, count: int, how: str) -> None:
        if how not in ("reset", "http"):
            raise ValueError(f"refuse how must be reset or http, not {how!r}")
        self.refusals, self.refuse_how = count, how

    async def send_raw(self, text: str) -> None:
        """One frame of any text (compressed like the rest), outside the session's log."""
        conn = self._live()
        async with conn.lock:
            message = conn.encoder.encode(text)
            if isinstance(message, bytes):
                await conn.ws.send_bytes(message)
            else:
                await conn.ws.send_str(message)

    async def send_reconnect(self) -> None:
        """Op 7: ask the client to reconnect and resume."""
        await self._live().send({"op": RECONNECT, "d": None, "s": None, "t": None})

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Op 9; a non-resumable invalidation forgets the session, forcing a new IDENTIFY."""
        conn = self._live()
        if not resumable and conn.session is not None:
            conn.session.valid = False
        await conn.send({"op": INVALID_SESSION, "d": resumable, "s": None, "t": None})

    async def close_all(self) -> None:
        for conn in self.connections:
            if not conn.ws.closed:
                conn.closed = True
                await conn.ws.close(code=1001)
