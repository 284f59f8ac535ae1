"""Spacing gateway reconnects, so that a gateway which keeps dropping the bot is not hammered.

discord.py reconnects at once, with no backoff, whenever a connection ends in a way it can
resume from (a dropped connection, op 7, a resumable op 9): a gateway, or a proxy in front of
it, that accepts and immediately drops every connection gets over a hundred connections a
second. `ReconnectThrottle` sits in front of every gateway connection the client opens: the
first attempt after a quiet spell goes at once, and each further attempt soon after the last
waits twice as long as the one before, up to a cap.

discord.py cannot retry the very first connection: when it fails, its connect loop reads the
previous connection's state, which does not exist yet, and an `AttributeError` about
`sequence` replaces the real reason. Until the client has a connection, the throttle turns a
failed attempt into `GatewayUnreachable`, which discord.py lets through, so that the client can
say where it could not connect and try again itself (`CitebotBot.connect`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
import yarl

log = logging.getLogger(__name__)

START_ATTEMPTS = 10  # first connection attempts before giving up (about two minutes)
CONNECT_TIMEOUT = 20.0  # opening one connection; with the longest wait, under discord.py's 60 s


class GatewayUnreachable(Exception):
    """No gateway connection could be opened before the client ever had one."""

    def __init__(self, url: str, reason: BaseException) -> None:
        self.address = str(yarl.URL(url).with_query(None))
        self.reason = " ".join(str(reason).split()) or type(reason).__name__
        super().__init__(f"cannot reach Discord's gateway at {self.address} ({self.reason})")


class ReconnectThrottle:
    """Delays for successive gateway connection attempts: none after `settle` seconds without
    one, then `first`, doubling up to `cap` while attempts keep coming within `settle`. A bot
    serving several shards opens one connection per shard at start, and may have to reopen
    them all at once: the first `burst` attempts in a row go without waiting."""

    def __init__(self, *, first: float = 0.5, cap: float = 30.0, settle: float = 30.0,
                 burst: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        self.first = first
        self.burst = burst  # attempts in a row that go at once (one per shard served)
        self.cap = cap  # under discord.py's 60 s timeout on opening a connection
        self.settle = settle
        self._clock = clock
        self._last: float | None = None
        self._streak = 0
        self._stopped = asyncio.Event()
        self.unreachable: GatewayUnreachable | None = None  # why the last attempt failed

    def next_delay(self) -> float:
        """Seconds to wait before the attempt about to be made; records the attempt."""
        now = self._clock()
        quick = self._last is not None and now - self._last < self.settle
        self._streak = self._streak + 1 if quick else 0
        waits = self._streak - self.burst + 1  # the burst goes at once
        delay = 0.0 if waits <= 0 else min(self.cap, self.first * 2 ** (waits - 1))
        self._last = now + delay
        return delay

    async def wait(self) -> None:
        """Wait this attempt's turn; raise a connection error if the client closes meanwhile
        (discord.py then ends its connect loop quietly)."""
        delay = self.next_delay()
        if delay:
            if self.unreachable is not None:
                log.warning("%s; retrying in %.1f s", self.unreachable, delay)
            else:
                log.warning("the gateway connection keeps dropping; reconnecting in %.1f s",
                            delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), delay)
        if self._stopped.is_set():
            raise aiohttp.ClientConnectionError("citebot is closing")

    def stop(self) -> None:
        """The client is closing: end any wait at once and refuse further attempts."""
        self._stopped.set()

    def guard(self, http: discord.http.HTTPClient, *, first: Callable[[], bool]) -> None:
        """Make every gateway connection `http` opens wait its turn first; while `first()`
        (the client never had a connection), a failed one raises `GatewayUnreachable`."""
        connect = http.ws_connect

        async def ws_connect(url: str, **kwargs: Any) -> aiohttp.ClientWebSocketResponse:
            await self.wait()
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    socket = await connect(url, **kwargs)
            except (aiohttp.ClientError, OSError) as exc:  # TimeoutError is an OSError
                if not first():
                    raise
                self.unreachable = GatewayUnreachable(url, exc)
                raise self.unreachable from exc
            self.unreachable = None
            return socket

        http.ws_connect = ws_connect  # type: ignore[method-assign]
