"""The server's articles: /add url|text|file, the "Add article" message command, /articles,
/remove."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import actions, render, replies
from bot.discord.cogs.common import article_choices, check_url, collection, links_in
from bot.discord.host import Host, host_of
from bot.discord.views import ArticlesView

TEXT_MAX = 6000  # Discord's limit for a string option


class Library(commands.Cog):
    add = app_commands.Group(name="add", description="Add an article to this server.",
                             guild_only=True)

    def __init__(self, bot: Host) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Add article", callback=self.add_links)
        self.menu.guild_only = True
        self.menu.allowed_contexts = app_commands.AppCommandContext(guild=True)
        bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @add.command(name="url", description="Add the article at a web address.")
    @app_commands.describe(url="The article's address (https://...)")
    async def add_url(self, interaction: discord.Interaction, url: str) -> None:
        url = check_url(url)
        await self.bot.limits.take_add(interaction.guild_id or 0)
        await interaction.response.defer(thinking=True)
        result = await self.bot.worker.run(
            interaction.guild_id, self.bot.core.add_url, collection(interaction), url,
            added_by=str(interaction.user.id))
        self.bot.metrics.added("command", [result.status])
        await replies.say(interaction, render.added(result.article, result.status),
                          ephemeral=False)

    @add.command(name="text", description="Add an article by pasting its text.")
    @app_commands.describe(title="The article's title", text="The article's text")
    async def add_text(self, interaction: discord.Interaction,
                       title: app_commands.Range[str, 1, 256],
                       text: app_commands.Range[str, 1, TEXT_MAX]) -> None:
        await self.bot.limits.take_add(interaction.guild_id or 0)
        await interaction.response.defer(thinking=True)
        result = await self.bot.worker.run(
            interaction.guild_id, self.bot.core.add_text, collection(interaction),
            title=title, text=text, added_by=str(interaction.user.id))
        self.bot.metrics.added("command", [result.status])
        await replies.say(interaction, render.added(result.article, result.status),
                          ephemeral=False)

    @add.command(name="file", description="Add an article from a .txt, .md or .html file.")
    @app_commands.describe(file="A .txt or .md file (first line: the title) or an .html page")
    async def add_file(self, interaction: discord.Interaction,
                       file: discord.Attachment) -> None:
        actions.check_attachment(file.filename, file.size, self.bot.settings.max_article_bytes)
        await self.bot.limits.take_add(interaction.guild_id or 0)
        await interaction.response.defer(thinking=True)
        data = await file.read()
        result = await self.bot.worker.run(
            interaction.guild_id, actions.add_document, self.bot.core, collection(interaction),
            file.filename, data, str(interaction.user.id))
        self.bot.metrics.added("command", [result.status])
        await replies.say(interaction, render.added(result.article, result.status),
                          ephemeral=False)

    async def add_links(self, interaction: discord.Interaction,
                        message: discord.Message) -> None:
        """The "Add article" message command: adds the message's http(s) links."""
        urls = links_in(message)
        if not urls:
            await replies.say(interaction, render.NO_LINKS)
            return
        await self.bot.limits.take_add(interaction.guild_id or 0, len(urls))
        await interaction.response.defer(thinking=True)
        results = await self.bot.worker.run(
            interaction.guild_id, actions.add_links, self.bot.core, collection(interaction),
            urls, str(interaction.user.id))
        self.bot.metrics.added("command", [r.status for r in results])
        await replies.say(interaction, render.added_many(results), ephemeral=False)

    @app_commands.command(name="articles", description="This server's articles, newest first.")
    @app_commands.guild_only()
    async def articles(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        page = await self.bot.worker.quick(
            actions.article_page, self.bot.core, collection(interaction), 1)
        view = ArticlesView(page.page, page.pages)
        await interaction.followup.send(embed=render.articles_embed(page), view=view,
                                        ephemeral=True, allowed_mentions=replies.NO_MENTIONS)
        view.stop()  # the instance registered in setup_hook handles the clicks

    @app_commands.command(name="remove", description="Remove an article from this server.")
    @app_commands.describe(article="The article to remove")
    @app_commands.guild_only()
    async def remove(self, interaction: discord.Interaction, article: str) -> None:
        can_manage = interaction.permissions.manage_guild
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed = await self.bot.worker.run(
            interaction.guild_id, actions.remove_article, self.bot.core,
            collection(interaction), article, user_id=str(interaction.user.id),
            can_manage=can_manage)
        await replies.say(interaction, render.removed(removed))

    @remove.autocomplete("article")
    async def remove_article(self, interaction: discord.Interaction,
                             current: str) -> list[app_commands.Choice[str]]:
        return await article_choices(interaction, current)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Library(host_of(bot)))
