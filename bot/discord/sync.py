"""Deliberate command sync: to the dev server at every start when one is configured, otherwise
globally, and then only when the commands changed since the last global sync (a hash of the
command payloads is kept in the database).

A refused sync does not stop the bot: mentions need no commands, and commands synced by an
earlier start still work. What Discord said is logged and the sync is retried in the
background after growing pauses, a bounded number of times (`RETRY_DELAYS`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot.discord.host import Host
from bot.discord.replies import describe_refusal

log = logging.getLogger(__name__)

RETRY_DELAYS = (10.0, 30.0, 120.0, 600.0, 1800.0)  # seconds before each retry; then give up
REFUSED = (discord.HTTPException, aiohttp.ClientError, OSError)


def command_payloads(tree: app_commands.CommandTree[Any]) -> list[dict[str, Any]]:
    """The global commands as Discord receives them, in a stable order."""
    payloads = [command.to_dict(tree) for command in tree.get_commands()]
    return sorted(payloads, key=lambda p: (p.get("type", 1), p["name"]))


def payload_hash(payloads: list[dict[str, Any]]) -> str:
    return hashlib.sha256(
        json.dumps(payloads, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def hash_key(application_id: int | None) -> str:
    return f"discord.command_hash.{application_id}"


async def sync_commands(bot: Host) -> str:
    """Sync as configured; returns "guild", "global" or "unchanged"."""
    dev_guild = bot.settings.dev_guild_id
    if dev_guild:
        guild = discord.Object(dev_guild)
        bot.tree.copy_global_to(guild=guild)
        synced = await bot.tree.sync(guild=guild)
        log.info("synced %d commands to the dev server %s", len(synced), dev_guild)
        return "guild"
    digest = payload_hash(command_payloads(bot.tree))
    key = hash_key(bot.application_id)
    if await bot.worker.quick(bot.core.get_meta, key) == digest:
        log.info("commands unchanged since the last global sync; not syncing")
        return "unchanged"
    synced = await bot.tree.sync()
    await bot.worker.quick(bot.core.set_meta, key, digest)
    log.info("synced %d commands globally", len(synced))
    return "global"


async def attempt_sync(bot: Host, attempt: int) -> bool:
    """Sync attempt number `attempt` (from 1); False if Discord refused it, having logged
    what it said and what comes next."""
    try:
        await sync_commands(bot)
    except REFUSED as exc:
        refusal, attempts = describe_refusal(exc), len(RETRY_DELAYS) + 1
        if attempt >= attempts:
            log.error("Discord refused the command sync (%s); gave up after %d attempts: slash "
                      "commands stay as Discord has them until the next start", refusal,
                      attempts)
        else:
            log.warning("Discord refused the command sync (%s); running anyway (mentions "
                        "work, slash commands may be missing or out of date), retrying in "
                        "%.1f s (attempt %d of %d)", refusal, RETRY_DELAYS[attempt - 1],
                        attempt + 1, attempts)
        return False
    if attempt > 1:
        log.info("the command sync went through on attempt %d", attempt)
    return True


async def retry_sync(bot: Host) -> bool:
    """Retry a refused sync after each of RETRY_DELAYS; whether it went through."""
    for attempt, delay in enumerate(RETRY_DELAYS, 2):
        await asyncio.sleep(delay)
        if await attempt_sync(bot, attempt):
            return True
    return False

