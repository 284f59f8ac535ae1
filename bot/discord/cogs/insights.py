"""What members asked that nothing answered: /insights show | enable | disable (Manage
Server), for the invoking server's collection only; every reply is ephemeral."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import render_insights, replies
from bot.discord.cogs.common import collection
from bot.discord.host import Host, host_of
from retrieval.insights import DEFAULT_DAYS, DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS

MANAGE = discord.Permissions(manage_guild=True)
Days = app_commands.Range[int, 1, MAX_RETENTION_DAYS]


class Insights(commands.Cog):
    insights = app_commands.Group(
        name="insights", description="What members asked that nothing answered.",
        guild_only=True, default_permissions=MANAGE)

    def __init__(self, bot: Host) -> None:
        self.bot = bot

    @insights.command(name="show", description="The questions nothing answered, grouped.")
    @app_commands.describe(days=f"The last N days (default {DEFAULT_DAYS})")
    @app_commands.checks.has_permissions(manage_guild=True)  # enforced here, not only by default
    async def show(self, interaction: discord.Interaction, days: Days = DEFAULT_DAYS) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.bot.worker.run(interaction.guild_id, self.bot.core.insights_report,
                                           collection(interaction), days)
        reply = render_insights.report_reply(report)
        if isinstance(reply, str):
            await replies.say(interaction, reply)
            return
        await interaction.followup.send(embed=reply, ephemeral=True,
                                        allowed_mentions=replies.NO_MENTIONS)

    @insights.command(name="enable", description="Keep unanswered and 👎'd questions "
                      "(never who asked) for this server's admins.")
    @app_commands.describe(
        retention_days=f"Days each question is kept (default {DEFAULT_RETENTION_DAYS})")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def enable(self, interaction: discord.Interaction,
                     retention_days: Days = DEFAULT_RETENTION_DAYS) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        switch = await self.bot.worker.quick(self.bot.core.enable_insights,
                                             collection(interaction), retention_days)
        await replies.say(interaction, render_insights.enabled(switch))

    @insights.command(name="disable", description="Stop keeping questions; delete those kept.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def disable(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        deleted = await self.bot.worker.quick(self.bot.core.disable_insights,
                                              collection(interaction))
        await replies.say(interaction, render_insights.disabled(deleted))


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Insights(host_of(bot)))
