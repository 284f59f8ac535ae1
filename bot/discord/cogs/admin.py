"""Administration and help: /reindex (Manage Server) and /citebot-help."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import actions, render, replies
from bot.discord.cogs.common import collection
from bot.discord.host import Host, host_of
from bot.discord.progress import ProgressMessage


class Admin(commands.Cog):
    def __init__(self, bot: Host) -> None:
        self.bot = bot
        self.reindexing: set[int] = set()  # servers with a reindex running

    @app_commands.command(name="reindex", description="Rebuild this server's search index.")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)  # enforced here, not only by default
    async def reindex(self, interaction: discord.Interaction) -> None:
        guild_id = interaction.guild_id or 0
        if guild_id in self.reindexing:
            await replies.say(interaction, render.REINDEX_RUNNING)
            return
        self.reindexing.add(guild_id)
        try:
            await interaction.response.defer(thinking=True)
            progress = ProgressMessage(
                lambda text: replies.edit_original(interaction, content=text),
                check=self.bot.worker.check_stopping)
            async with progress:  # its own lane: questions keep their slots meanwhile
                articles, vectors = await self.bot.worker.run(
                    ("reindex", guild_id), actions.rebuild, self.bot.core,
                    collection(interaction), progress.update)
            await progress.finish(render.reindexed(articles, vectors))
        finally:
            self.reindexing.discard(guild_id)

    @app_commands.command(name="citebot-help", description="What citebot does and how to use it.")
    async def help(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            embed=render.help_embed(), ephemeral=True, allowed_mentions=replies.NO_MENTIONS)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Admin(host_of(bot)))
