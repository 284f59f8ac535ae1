"""Deliberate command sync: to the dev server at every start when one is configured, otherwise
globally, and then only when the commands changed since the last global sync (a hash of the
command payloads is kept in the database)."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

if TYPE_CHECKING:
    from bot.client import CitebotBot

log = logging.getLogger(__name__)


def command_payloads(tree: app_commands.CommandTree[Any]) -> list[dict[str, Any]]:
    """The global commands as Discord receives them, in a stable order."""
    payloads = [command.to_dict(tree) for command in tree.get_commands()]
    return sorted(payloads, key=lambda p: (p.get("type", 1), p["name"]))


def payload_hash(payloads: list[dict[str, Any]]) -> str:
    return hashlib.sha256(
        json.dumps(payloads, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def hash_key(application_id: int | None) -> str:
    return f"discord.command_hash.{application_id}"


async def sync_commands(bot: CitebotBot) -> str:
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
    storage = bot.core.storage
    if await bot.worker.quick(storage.meta_get, key) == digest:
        log.info("commands unchanged since the last global sync; not syncing")
        return "unchanged"
    synced = await bot.tree.sync()
    await bot.worker.quick(storage.meta_set, key, digest)
    log.info("synced %d commands globally", len(synced))
    return "global"
