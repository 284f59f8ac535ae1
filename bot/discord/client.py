"""The Discord client: resources passed in, extensions loaded, commands synced deliberately,
one gate for every interaction and one handler for every error, and a gateway connection that
outlives what discord.py would stop on (a malformed event, an unreachable gateway at start)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import delivery, render, replies, sync
from bot.discord.events import DroppedEvents, guard_parsers
from bot.discord.explain import explain
from bot.discord.feed_loop import FeedLoop
from bot.discord.health import HealthServer
from bot.discord.limits import Limits
from bot.discord.metrics import Metrics
from bot.discord.reconnect import START_ATTEMPTS, GatewayUnreachable, ReconnectThrottle
from bot.discord.views import PERSISTENT_VIEWS
from bot.discord.work import Inflight, Worker
from config.settings import Settings
from index.errors import StorageError
from retrieval.core import Core

log = logging.getLogger(__name__)

EXTENSIONS = tuple(f"bot.discord.cogs.{name}"
                   for name in ("ask", "library", "admin", "feeds", "insights"))


def intents(message_content: bool = False) -> discord.Intents:
    """Servers, messages in servers and DMs, and reactions the bot adds. A message that
    mentions the bot carries its content without the message-content intent; watched channels
    and plain follow-ups (any message in a conversation thread, a reply to an answer) need it,
    and it is asked for only when configured (``CITEBOT_DISCORD_MESSAGE_CONTENT``; it is
    privileged: a bot asking for it without the developer portal's consent is refused, see
    `CitebotBot.connect`)."""
    wanted = discord.Intents.none()
    wanted.guilds = wanted.guild_messages = wanted.dm_messages = True
    wanted.message_content = message_content
    return wanted


class CitebotTree(app_commands.CommandTree["CitebotBot"]):
    """Sends every command and autocomplete through the bot's gate and error handler."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await self.client.admit(interaction)

    async def on_error(self, interaction: discord.Interaction,
                       error: app_commands.AppCommandError) -> None:
        await self.client.report_error(interaction, error)


class CitebotBot(commands.Bot):
    """citebot on Discord: a thin shell over the core."""

    def __init__(self, *, core: Core, settings: Settings, worker: Worker | None = None,
                 metrics: Metrics | None = None, **options: Any) -> None:
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # no voice here
        super().__init__(
            command_prefix=commands.when_mentioned, help_command=None,
            intents=intents(settings.discord_message_content),
            tree_cls=CitebotTree, allowed_mentions=replies.NO_MENTIONS,
            chunk_guilds_at_startup=False, member_cache_flags=discord.MemberCacheFlags.none(),
            **options)
        self.core = core
        self.settings = settings
        self.worker = worker or Worker()
        self.limits = Limits(ask_cooldown_s=settings.ask_cooldown_s,
                             add_quota_per_hour=settings.add_quota_per_hour,
                             rates=core.storage.rates if core is not None else None)
        self.inflight = Inflight()
        self.hinted_threads: set[int] = set()  # told that plain messages cannot be read
        self.send_pauses = delivery.PAUSES  # between tries of an answer the API did not take
        self.reconnects = ReconnectThrottle(burst=len(settings.served_shards))
        self.reconnects.guard(self.http, first=self._never_connected)
        self.events = DroppedEvents()
        guard_parsers(self._connection.parsers, self.events)
        self.closing = False
        self.shutdown_deadline: float | None = None
        self._shutdown: asyncio.Task[None] | None = None
        self._sync_retry: asyncio.Task[bool] | None = None
        self.feed_loop = FeedLoop(self)
        self.metrics = metrics or Metrics()
        self.metrics.watch(connected=self.gateway_up, queued=lambda: self.worker.queued,
                           running=lambda: self.worker.busy)
        endpoint = settings.metrics_endpoint
        self.health = HealthServer(self, *endpoint) if endpoint else None

    def _never_connected(self) -> bool:
        return self.ws is None

    @property
    def dropped_events(self) -> int:
        """Gateway events dropped because they could not be handled."""
        return self.events.count

    async def setup_hook(self) -> None:
        if self.health is not None:
            await self.health.start()
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        for view in PERSISTENT_VIEWS:
            self.add_view(view())
        if not self.settings.leads:
            log.info("commands are synced by the process serving shard 0, not this one")
        elif not await sync.attempt_sync(self, 1):  # refused: start anyway, retry meanwhile
            self._sync_retry = asyncio.create_task(sync.retry_sync(self),
                                                   name="citebot-command-sync")
        self.feed_loop.start()

    async def connect(self, *, reconnect: bool = True) -> None:
        """discord.py's connect loop, carried on where it would end: a first connection that
        cannot be opened is tried again (START_ATTEMPTS in all, spaced by the throttle), and a
        connection that fails outside the event parsers (an undecodable frame, say) is
        replaced by a new one."""
        failures = 0
        while not self.is_closed():
            try:
                await super().connect(reconnect=reconnect)
                return
            except GatewayUnreachable:
                failures += 1
                if failures >= START_ATTEMPTS or not reconnect:
                    raise
            except discord.PrivilegedIntentsRequired:
                if not self._connection.intents.message_content:
                    raise
                self._drop_message_content()
            except (discord.DiscordException, aiohttp.ClientError, OSError):
                raise  # what discord.py means to end on: a bad token, intents, closing
            except Exception as exc:  # discord.py choked outside the parsers (a bad frame)
                if not reconnect:
                    raise
                self.events.record("(receive loop)", exc)
                log.warning("the gateway connection failed (%s: %s); opening a new one",
                            type(exc).__name__, exc)
                await self._abandon_connection()

    def _drop_message_content(self) -> None:
        """Go on without the Message Content intent Discord refused: everything but watched
        channels and plain follow-ups works without it; /watch and conversation threads say
        what to do."""
        log.error("Discord refused the Message Content intent (CITEBOT_DISCORD_MESSAGE_CONTENT "
                  "is set, but the intent is not enabled for this bot in the developer "
                  "portal; see docs/DISCORD.md). Running without it: links posted in watched "
                  "channels, and follow-ups that do not mention the bot, are not read until "
                  "it is enabled and citebot restarted.")
        # discord.py sends the state's intents in IDENTIFY; there is no public setter
        self._connection._intents.message_content = False

    @property
    def reads_messages(self) -> bool:
        """Whether message text arrives (the Message Content intent is asked and granted)."""
        return self._connection.intents.message_content

    async def _abandon_connection(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):  # it is broken already; only free it
                await self.ws.close(code=1000)

    async def on_ready(self) -> None:
        shards = ""
        if self.settings.sharded:
            shards = (f" on shard(s) {', '.join(map(str, self.settings.served_shards))} of "
                      f"{self.shard_count}")
        log.info("connected as %s to %d server(s)%s", self.user, len(self.guilds), shards)

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands; the ask cog answers mentions."""

    async def on_connect(self) -> None:  # a session began (READY), the first or a new one
        self.metrics.gateway_connected(len(self.settings.served_shards))

    async def on_resumed(self) -> None:
        self.metrics.gateway_resumed()

    def gateway_up(self) -> bool:
        """Whether the bot is connected to Discord's gateway (every shard it serves): a
        session is open (READY came), whether or not `on_ready` has fired (it waits for the
        servers to arrive, seconds after the bot answers)."""
        ws = self.ws
        return ws is not None and ws.open and ws.session_id is not None

    # -- the gate ------------------------------------------------------------------------

    async def admit(self, interaction: discord.Interaction) -> bool:
        """Every command, autocomplete and click passes here first: refused while shutting
        down and in DMs, otherwise tracked as in-flight work."""
        refusal = None
        if self.closing:
            refusal = render.SHUTTING_DOWN
        elif interaction.guild_id is None:
            refusal = render.DM_ONLY
        if refusal is None:
            self.inflight.adopt()
            return True
        if interaction.type is discord.InteractionType.autocomplete:
            await interaction.response.autocomplete([])
        else:
            await replies.say(interaction, refusal)
        return False

    # -- the one error handler -----------------------------------------------------------

    async def report_error(self, interaction: discord.Interaction, error: Exception) -> None:
        """Tell the member what went wrong; log what nobody expected, once."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        text = explain(cause)
        if text is None or isinstance(cause, StorageError):
            where = interaction.command.qualified_name if interaction.command else "a component"
            log.error("error in %s (server %s)", where, interaction.guild_id, exc_info=cause)
        try:
            await replies.say(interaction, text or render.UNEXPECTED)
        except (discord.HTTPException, *delivery.TRANSIENT) as exc:
            log.warning("could not report an error to the member: %s",
                        replies.describe_refusal(exc))

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        log.exception("error in the %s event handler", event_method)

    # -- shutdown ------------------------------------------------------------------------

    def begin_shutdown(self) -> None:
        """Stop taking new work, let in-flight work finish until the deadline (abandoning what
        is left), then close. Safe to call more than once."""
        if self.closing:
            return
        self.closing = True
        grace = self.settings.shutdown_grace_s
        loop = asyncio.get_running_loop()
        self.shutdown_deadline = loop.time() + grace
        log.info("shutting down: %d interaction(s) in flight, up to %.0f s to finish",
                 len(self.inflight), grace)
        self._shutdown = loop.create_task(self._finish(grace), name="citebot-shutdown")

    async def close(self) -> None:
        self.reconnects.stop()
        self.feed_loop.stop()
        if self._sync_retry is not None:
            self._sync_retry.cancel()
        if self.events.count and not self.is_closed():
            log.warning("%s", self.events.status())
        await super().close()
        if self.health is not None:
            await self.health.stop()

    async def _finish(self, grace: float) -> None:
        await self.inflight.drain(grace)
        self.worker.stopping.set()
        await self.close()


class ShardedCitebotBot(CitebotBot, commands.AutoShardedBot):
    """citebot serving some shards of an application (CITEBOT_SHARD_COUNT, CITEBOT_SHARD_IDS),
    through discord.py's sharded client: one gateway connection per shard, the servers of
    other shards served by other processes.

    discord.py keeps each shard connected itself (resuming, identifying again, retrying a
    shard that cannot connect every few seconds), so the first-connection limit of the
    unsharded bot does not apply; what it cannot recover from (a refused intent, a failure
    outside the event parsers) closes the client, and `citebot run` then exits with 1 for a
    service manager to restart it."""

    def _never_connected(self) -> bool:
        return False  # a failed attempt stays a connection error, which discord.py retries

    def gateway_up(self) -> bool:
        shards = self.shards  # a shard is listed once its connection is opened
        return (len(shards) == len(self.settings.served_shards)
                and not any(shard.is_closed() for shard in shards.values()))

    async def connect(self, *, reconnect: bool = True) -> None:
        await commands.AutoShardedBot.connect(self, reconnect=reconnect)


def make_bot(*, core: Core, settings: Settings, worker: Worker | None = None,
             **options: Any) -> CitebotBot:
    """The bot `settings` ask for: sharded when CITEBOT_SHARD_COUNT is set."""
    if settings.shard_count is None:
        return CitebotBot(core=core, settings=settings, worker=worker, **options)
    return ShardedCitebotBot(core=core, settings=settings, worker=worker,
                             shard_count=settings.shard_count,
                             shard_ids=list(settings.served_shards), **options)
