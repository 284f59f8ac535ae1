"""`citebot run`: the launcher. Builds the resources once (settings, core, worker pool), passes
them to the bot, and owns the process: signals, the shutdown deadline, the exit code."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import discord
import yarl

from bot.discord import redact
from bot.discord.client import CitebotBot, make_bot
from bot.discord.reconnect import START_ATTEMPTS, GatewayUnreachable
from bot.discord.work import Worker
from config.settings import Settings
from index.errors import CitebotError
from index.store.shards import claim_shards
from retrieval.core import Core

log = logging.getLogger(__name__)

NO_TOKEN = ("citebot: CITEBOT_DISCORD_TOKEN is not set; create a bot token in the Discord "
            "developer portal (see docs/DISCORD.md) and set it in the environment.")


def run(settings: Settings) -> int:
    """Run the bot until SIGTERM/SIGINT; the process exit code."""
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    redact.install(token)
    _show_bot_progress()
    try:
        code, idle = asyncio.run(serve(settings, token))
    except discord.LoginFailure:
        print("citebot: Discord rejected the bot token (CITEBOT_DISCORD_TOKEN); check it.",
              file=sys.stderr)
        return 1
    except discord.PrivilegedIntentsRequired:
        print("citebot: Discord refused the Message Content intent: enable it for this bot "
              "in the developer portal, or unset CITEBOT_DISCORD_MESSAGE_CONTENT "
              "(docs/DISCORD.md).", file=sys.stderr)
        return 1
    except discord.ConnectionClosed as exc:
        print(f"citebot: {closed_reason(exc)}", file=sys.stderr)
        return 1
    except GatewayUnreachable as exc:
        print(f"citebot: {exc}; gave up after {START_ATTEMPTS} attempts.", file=sys.stderr)
        return 1
    except (aiohttp.ClientError, OSError) as exc:
        print(f"citebot: cannot reach Discord: {exc}", file=sys.stderr)
        return 1
    except CitebotError as exc:
        print(f"citebot: {exc}", file=sys.stderr)
        return 1
    if not idle:  # core calls outlived the deadline: abandon them instead of waiting
        logging.shutdown()
        os._exit(code)
    return code


async def serve(settings: Settings, token: str) -> tuple[int, bool]:
    """Open the core, run the bot until a signal and a graceful shutdown; (exit code, whether
    every core call had returned by the deadline)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # before the model loads: a shard another process serves is refused at once, in one line
    with await asyncio.to_thread(claim_shards, settings), discord_endpoints(settings):
        core = await asyncio.to_thread(Core.open, settings)  # loads the model (seconds)
        worker = Worker()
        bot = make_bot(core=core, settings=settings, worker=worker)
        watcher: asyncio.Task[None] | None = None
        code = 0
        try:
            if not stop.is_set():  # a signal while the model loaded: do not even connect
                watcher = asyncio.create_task(_stop_on(stop, bot))
                async with bot:
                    await bot.start(token)
                if not bot.closing:
                    log.error("the gateway connection ended although no shutdown was asked "
                              "for; exiting with 1 so that a service manager restarts citebot")
                    code = 1
        finally:
            if watcher is not None:
                watcher.cancel()
            left = (bot.shutdown_deadline or loop.time()) - loop.time()
            idle = await asyncio.to_thread(worker.close, max(1.0, left))
            core.close()
            log.info("stopped")
    return code, idle


CLOSE_ADVICE = {
    4010: "CITEBOT_SHARD_COUNT and CITEBOT_SHARD_IDS do not fit: every process must give the "
          "same shard count, and each its own ids below it",
    4011: "Discord requires sharding for a bot in this many servers: set CITEBOT_SHARD_COUNT "
          "(docs/SCALING.md, 'Bot shards')",
    4012: "this discord.py speaks a gateway version Discord no longer accepts; upgrade citebot",
    4013: "Discord refused the intents asked for; check CITEBOT_DISCORD_MESSAGE_CONTENT",
}


def closed_reason(exc: discord.ConnectionClosed) -> str:
    """Why Discord ended the gateway connection, and what to do about it."""
    said = f" ({exc.reason})" if exc.reason else ""
    advice = CLOSE_ADVICE.get(exc.code or 0, "see the log above; start citebot again")
    return f"Discord closed the gateway connection with code {exc.code}{said}: {advice}."


async def _stop_on(stop: asyncio.Event, bot: CitebotBot) -> None:
    await stop.wait()
    bot.begin_shutdown()


@contextmanager
def discord_endpoints(settings: Settings) -> Iterator[None]:
    """Point discord.py at another REST base and gateway (a REST proxy, or a test server)
    when configured, and restore the defaults afterwards."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


def _show_bot_progress() -> None:
    """A long-running service should say that it connected and synced even at the CLI's
    default (warnings only) level; -v and -vv still add more."""
    for name in ("bot", "discord"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
