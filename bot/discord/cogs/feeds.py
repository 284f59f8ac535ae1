"""News that comes in by itself: /feeds add|list|remove, /watch and /unwatch (Manage Server),
and the links members post in watched channels."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import actions, render, render_feeds, replies
from bot.discord.cogs.common import check_url, collection, posted_links
from bot.discord.host import Host, host_of

MANAGE = discord.Permissions(manage_guild=True)


class Feeds(commands.Cog):
    feeds = app_commands.Group(name="feeds", description="Feeds this server follows.",
                               guild_only=True, default_permissions=MANAGE)

    def __init__(self, bot: Host) -> None:
        self.bot = bot
        self.watching: set[tuple[int, int]] = set()  # (server, channel)

    async def cog_load(self) -> None:
        watched = await self.bot.worker.quick(self.bot.core.watched)
        self.watching = {(g, w.channel_id) for w in watched
                         if (g := actions.guild_of(w.collection)) is not None}

    @feeds.command(name="add", description="Follow a feed (RSS, Atom, JSON Feed) or a site.")
    @app_commands.describe(url="The feed's address, or a page that names its feed",
                           channel="Where to announce new articles (optional)")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def add(self, interaction: discord.Interaction, url: str,
                  channel: discord.TextChannel | None = None) -> None:
        url = check_url(url)
        await interaction.response.defer(thinking=True)
        feed = await self.bot.worker.run(
            interaction.guild_id, self.bot.core.add_feed, collection(interaction), url,
            channel_id=channel.id if channel else None, added_by=str(interaction.user.id))
        self.bot.feed_loop.wake.set()
        await replies.say(interaction, render_feeds.subscribed(feed, feed.channel_id),
                          ephemeral=False)

    @feeds.command(name="list", description="The feeds this server follows, and their state.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def list_feeds(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        feeds = await self.bot.worker.quick(self.bot.core.feeds, collection(interaction))
        embed = render_feeds.feeds_embed(feeds, self.bot.settings.feed_max_per_server)
        await interaction.followup.send(embed=embed, ephemeral=True,
                                        allowed_mentions=replies.NO_MENTIONS)

    @feeds.command(name="remove", description="Stop following a feed (its articles stay).")
    @app_commands.describe(feed="The feed's number (from /feeds list) or address")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def remove(self, interaction: discord.Interaction, feed: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed = await self.bot.worker.quick(self.bot.core.remove_feed,
                                              collection(interaction), feed)
        await replies.say(interaction, render_feeds.removed(removed))

    @remove.autocomplete("feed")
    async def remove_choices(self, interaction: discord.Interaction,
                             current: str) -> list[app_commands.Choice[str]]:
        feeds = await self.bot.worker.quick(self.bot.core.feeds, collection(interaction))
        typed = current.strip().lower()
        return [app_commands.Choice(name=render.clip(f"{f.id} \u00b7 {f.title or f.url}",
                                                     render.CHOICE_MAX), value=str(f.id))
                for f in feeds if typed in f"{f.id} {f.title or ''} {f.url}".lower()][:25]

    @app_commands.command(name="watch", description="Add the links members post in a channel.")
    @app_commands.describe(channel="The channel to watch")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def watch(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        if not self.bot.reads_messages:
            await replies.say(interaction, render_feeds.NEEDS_CONTENT_INTENT)
            return
        await interaction.response.defer(thinking=True)
        await self.bot.worker.quick(self.bot.core.watch, collection(interaction), channel.id,
                                    added_by=str(interaction.user.id))
        self.watching.add((interaction.guild_id or 0, channel.id))
        await replies.say(interaction, render_feeds.watching(channel.id), ephemeral=False)

    @app_commands.command(name="unwatch", description="Stop adding the links of a channel.")
    @app_commands.describe(channel="The channel to stop watching")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def unwatch(self, interaction: discord.Interaction,
                      channel: discord.TextChannel) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        was = await self.bot.worker.quick(self.bot.core.unwatch, collection(interaction),
                                          channel.id)
        self.watching.discard((interaction.guild_id or 0, channel.id))
        await replies.say(interaction, render_feeds.unwatched(channel.id) if was
                          else render_feeds.NOT_WATCHED)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A member's links in a watched channel are indexed: a reaction when they were, one
        short reply (pinging nobody) when some could not be."""
        guild = message.guild
        if guild is None or message.author.bot or message.webhook_id is not None:
            return
        if (guild.id, message.channel.id) not in self.watching or self.bot.closing:
            return
        urls = posted_links(message.content)
        if not urls:
            return
        self.bot.inflight.adopt()
        taken = await self.bot.worker.run(
            guild.id, actions.add_watched_links, self.bot.core,
            actions.collection_for(guild.id), urls, str(message.author.id), message.channel.id)
        self.bot.metrics.added("watch", [t.status for t in taken])
        if any(t.article is not None for t in taken):
            await message.add_reaction(render_feeds.INDEXED)
        failures = render_feeds.link_failures(taken)
        if failures is not None:
            await replies.reply_text(message, failures)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Feeds(host_of(bot)))
