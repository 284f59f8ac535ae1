"""`citebot run`: the Discord bot (bot/discord/), started from the command line."""

from __future__ import annotations

import argparse

from bot.cli.context import Commands, Context


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    commands.add_parser(
        "run", parents=[common], help="run the Discord bot (and poll feeds)",
        description="Run the Discord bot (token from CITEBOT_DISCORD_TOKEN); it polls every "
        "collection's feeds in the background. Several processes share one bot with "
        "CITEBOT_SHARD_COUNT and CITEBOT_SHARD_IDS: each serves its shards' servers and polls "
        "their feeds (docs/SCALING.md). With CITEBOT_METRICS_ADDRESS it serves /healthz and "
        "Prometheus /metrics (docs/OPERATING.md).",
    ).set_defaults(handler=cmd_run)


def cmd_run(ctx: Context) -> int:
    from bot.discord.app import run  # discord.py loads only for the bot

    return run(ctx.settings)
