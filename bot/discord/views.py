"""Buttons that keep working after a restart.

Both views are persistent (`timeout=None`, fixed custom_ids) and registered once in
`setup_hook`; everything a click needs is read back from the message it is on (the answer's
question and quotes, or the page number), so no state is kept in memory.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.discord import actions, render, replies
from bot.discord.host import host_of
from index.store.protocol import Vote

VOTE_UP = "citebot:vote:up"
VOTE_DOWN = "citebot:vote:down"
PAGE_PREV = "citebot:articles:prev"
PAGE_NEXT = "citebot:articles:next"


class GuardedView(discord.ui.View):
    """Admits clicks like the command tree admits commands, and reports errors the same way."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await host_of(interaction.client).admit(interaction)

    async def on_error(self, interaction: discord.Interaction, error: Exception,
                       item: discord.ui.Item[Any]) -> None:
        await host_of(interaction.client).report_error(interaction, error)


class FeedbackView(GuardedView):
    """👍/👎 under an answer: records the question, the quotes shown, the vote and who."""

    @discord.ui.button(emoji="\U0001f44d", style=discord.ButtonStyle.secondary,
                       custom_id=VOTE_UP)
    async def up(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await self.vote(interaction, +1)

    @discord.ui.button(emoji="\U0001f44e", style=discord.ButtonStyle.secondary,
                       custom_id=VOTE_DOWN)
    async def down(self, interaction: discord.Interaction,
                   button: discord.ui.Button[Any]) -> None:
        await self.vote(interaction, -1)

    async def vote(self, interaction: discord.Interaction, vote: int) -> None:
        bot = host_of(interaction.client)
        shown = render.read_answer(interaction.message.embeds if interaction.message else [])
        await interaction.response.defer(ephemeral=True, thinking=True)
        collection = actions.collection_for(interaction.guild_id or 0)
        answer_id = str(interaction.message.id if interaction.message else interaction.id)
        await bot.worker.quick(bot.core.vote, Vote(
            collection, answer_id, str(interaction.user.id), shown.question,
            tuple(shown.quotes), vote))
        bot.metrics.voted(vote)
        await replies.say(interaction, render.feedback_thanks(vote))


class ArticlesView(GuardedView):
    """◀ ▶ under /articles; the current page is read from the embed's footer."""

    def __init__(self, page: int = 1, pages: int = 1) -> None:
        super().__init__()
        self.previous.disabled = page <= 1
        self.next.disabled = page >= pages

    @discord.ui.button(emoji="\u25c0", style=discord.ButtonStyle.secondary, custom_id=PAGE_PREV)
    async def previous(self, interaction: discord.Interaction,
                       button: discord.ui.Button[Any]) -> None:
        await self.turn(interaction, -1)

    @discord.ui.button(emoji="\u25b6", style=discord.ButtonStyle.secondary, custom_id=PAGE_NEXT)
    async def next(self, interaction: discord.Interaction,
                   button: discord.ui.Button[Any]) -> None:
        await self.turn(interaction, +1)

    async def turn(self, interaction: discord.Interaction, step: int) -> None:
        bot = host_of(interaction.client)
        embeds = interaction.message.embeds if interaction.message else []
        wanted = render.page_of(embeds[0] if embeds else None) + step
        await interaction.response.defer()
        collection = actions.collection_for(interaction.guild_id or 0)
        page = await bot.worker.quick(actions.article_page, bot.core, collection, wanted)
        view = ArticlesView(page.page, page.pages)
        await replies.edit_original(interaction, embed=render.articles_embed(page), view=view)
        view.stop()  # the registered instance handles the next click


PERSISTENT_VIEWS = (FeedbackView, ArticlesView)
