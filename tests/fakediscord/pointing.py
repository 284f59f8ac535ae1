"""Pointing discord.py at the fake (the same two class attributes a REST proxy needs), and an
aiohttp trace that refuses any request leaving 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import aiohttp
import discord
import yarl


@contextmanager
def point_discord_at(api_base: str, gateway_url: str) -> Iterator[None]:
    """Route discord.py's REST and gateway to another base for the duration of the block."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


class NonLoopbackRequest(RuntimeError):
    """A test bot tried to reach something other than 127.0.0.1."""


def loopback_only_trace(seen: list[str] | None = None) -> aiohttp.TraceConfig:
    """A TraceConfig (pass as `http_trace=`) that raises on any non-127.0.0.1 request and
    appends every requested URL to `seen` if given."""

    async def on_request_start(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: Any
    ) -> None:
        if seen is not None:
            seen.append(str(params.url))
        if params.url.host != "127.0.0.1":
            raise NonLoopbackRequest(f"test bot tried to reach {params.url}")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    return trace
