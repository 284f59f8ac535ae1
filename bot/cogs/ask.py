"""Asking: /ask, and a mention of the bot with a question."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import actions, render, replies
from bot.cogs.common import article_choices, collection, strip_mention
from bot.explain import explain
from bot.limits import QUESTION_MAX, BadQuestion, OnCooldown, check_question
from bot.views import FeedbackView
from index.errors import CitebotError

if TYPE_CHECKING:
    from bot.client import CitebotBot


class Ask(commands.Cog):
    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="ask", description="Answer a question with verbatim, cited quotes from this "
        "server's articles.")
    @app_commands.describe(question="What do you want to know?",
                           article="Only search this article")
    @app_commands.guild_only()
    async def ask(self, interaction: discord.Interaction,
                  question: app_commands.Range[str, 1, QUESTION_MAX],
                  article: str | None = None) -> None:
        self.bot.limits.ask.hit(interaction.user.id)
        await interaction.response.defer(thinking=True)
        answer = await self.bot.worker.run(
            interaction.guild_id, actions.ask, self.bot.core, collection(interaction), question,
            article)
        await replies.send_pages(interaction, render.answer_pages(answer), FeedbackView())

    @ask.autocomplete("article")
    async def ask_article(self, interaction: discord.Interaction,
                          current: str) -> list[app_commands.Choice[str]]:
        return await article_choices(interaction, current)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if message.author.bot or me is None:
            return
        if message.guild is None:
            await self.refuse(message, render.DM_ONLY)
        elif me in message.mentions:
            await self.answer_mention(message, message.guild.id, me.id)

    async def answer_mention(self, message: discord.Message, guild_id: int, me: int) -> None:
        """"@citebot what did Kim say?": the same answer as /ask, as a reply."""
        if self.bot.closing:
            await self.refuse(message, render.SHUTTING_DOWN)
            return
        self.bot.inflight.adopt()
        question = strip_mention(message.content, me)
        try:
            check_question(question)
            self.bot.limits.ask.hit(message.author.id)
            async with message.channel.typing():
                answer = await self.bot.worker.run(
                    guild_id, actions.ask, self.bot.core, actions.collection_for(guild_id),
                    question)
        except (BadQuestion, OnCooldown, CitebotError) as exc:
            await self.refuse(message, explain(exc) or render.UNEXPECTED)
            return
        await replies.reply_pages(message, render.answer_pages(answer), FeedbackView())

    async def refuse(self, message: discord.Message, text: str) -> None:
        """Reply with a refusal, unless this member was refused moments ago."""
        if self.bot.limits.may_tell(message.author.id):
            await replies.reply_text(message, text)


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(Ask(bot))
