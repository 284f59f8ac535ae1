"""What the parts of the Discord app need of the running bot, as a protocol.

The cogs, the views, the feed loop, the health endpoint, command sync and threads take a
`Host`; `client.CitebotBot` is the one that runs, and it imports them, so they import this
module, never the client (that was a circle through the client).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, cast

import discord
from discord import app_commands

from bot.discord.limits import Limits
from bot.discord.metrics import Metrics
from bot.discord.work import Inflight, Worker
from config.settings import Settings
from retrieval.core import Core


class Wakeable(Protocol):
    """The feed loop as a command sees it: told to look for due feeds now."""

    @property
    def wake(self) -> asyncio.Event: ...


class Host(Protocol):
    """The bot: its resources (built once, passed in), its state, its gate and its one error
    handler, and what discord.py's client tells about the connection."""

    @property
    def core(self) -> Core: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def worker(self) -> Worker: ...
    @property
    def metrics(self) -> Metrics: ...
    @property
    def limits(self) -> Limits: ...
    @property
    def inflight(self) -> Inflight: ...
    @property
    def feed_loop(self) -> Wakeable: ...
    @property
    def closing(self) -> bool: ...
    @property
    def send_pauses(self) -> tuple[float, ...]: ...
    @property
    def hinted_threads(self) -> set[int]: ...
    @property
    def reads_messages(self) -> bool: ...
    @property
    def user(self) -> discord.ClientUser | None: ...
    @property
    def application_id(self) -> int | None: ...
    @property
    def tree(self) -> app_commands.CommandTree[Any]: ...

    def get_channel(self, id: int, /) -> object: ...
    def is_closed(self) -> bool: ...
    def gateway_up(self) -> bool: ...
    async def admit(self, interaction: discord.Interaction) -> bool: ...
    async def report_error(self, interaction: discord.Interaction,
                           error: Exception) -> None: ...


def host_of(client: discord.Client) -> Host:
    """The bot behind a client discord.py hands over (an interaction's, a cog's set-up): in
    this app, always a `Host`."""
    return cast("Host", client)
