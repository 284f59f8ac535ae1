"""Asking: /ask, a mention of the bot with a question, and follow-ups (any message in a
conversation's thread, or a reply to an answer; see bot/discord/threads.py)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import actions, delivery, drafts, render, replies, threads
from bot.discord.cogs.common import article_choices, collection, strip_mention
from bot.discord.explain import explain
from bot.discord.host import Host, host_of
from bot.discord.limits import QUESTION_MAX, BadQuestion, OnCooldown, check_question
from bot.discord.render_threads import CANNOT_READ, is_chatter
from bot.discord.views import FeedbackView
from index.errors import CitebotError
from retrieval.models import Answer


class Ask(commands.Cog):
    def __init__(self, bot: Host) -> None:
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
        started = time.monotonic()
        await self.bot.limits.hit_ask(interaction.user.id)
        question = render.printable(question)
        await interaction.response.defer(thinking=True)
        place = await threads.place_of_interaction(self.bot, interaction)
        offer = threads.thread_offer(self.bot, place, interaction.channel,
                                     interaction.app_permissions, question)
        asked = actions.Question(collection(interaction), question, conversation=place.key,
                                 article=article)
        answer, drafted = await self.answer(  # with a language model, drafts fill it in
            interaction.guild_id, asked,
            lambda page: replies.edit_original(interaction, embeds=page))
        pages = render.answer_pages(answer, threads.answer_footer(self.bot, answer, place, offer))
        send = replies.finish_pages if drafted else replies.send_pages
        sent = await send(interaction, pages, FeedbackView(), pauses=self.bot.send_pauses)
        self.bot.metrics.answered("slash", answer.found, time.monotonic() - started)
        await threads.after_answer(self.bot, interaction.guild_id or 0, place, sent, offer)

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
            return
        mentioned = me in message.mentions
        if not (mentioned or threads.may_follow_up(message)):
            return
        place = await threads.place_of_message(self.bot, message, mentioned)
        if place is None:
            return
        question = render.printable(strip_mention(message.content, me.id))
        if mentioned or (question and not is_chatter(question)):
            await self.answer_message(message, message.guild.id, place, question)
        elif not question and not self.bot.reads_messages and place.in_thread \
                and threads.first_hint(self.bot, message.channel.id):
            await replies.reply_text(message, CANNOT_READ.format(me=me.display_name))

    async def answer_message(self, message: discord.Message, guild_id: int,
                             place: threads.Place, question: str) -> None:
        """"@citebot what did Kim say?", or a follow-up: the same answer as /ask, as a reply
        (opening a thread on it for a new conversation)."""
        if self.bot.closing:
            await self.refuse(message, render.SHUTTING_DOWN)
            return
        started = time.monotonic()
        self.bot.inflight.adopt()
        offer = threads.thread_offer(self.bot, place, message.channel,
                                     threads.permissions_in(message), question)
        draft = drafts.ReplyDrafts(message)
        try:
            check_question(question)
            await self.bot.limits.hit_ask(message.author.id)
            asked = actions.Question(actions.collection_for(guild_id), question,
                                     conversation=place.key)
            async with delivery.typing(message.channel):  # decoration: never waited for
                answer, _ = await self.answer(guild_id, asked, draft.show)
        except (BadQuestion, OnCooldown, CitebotError) as exc:
            await self.refuse(message, explain(exc) or render.UNEXPECTED)
            return
        pages = render.answer_pages(answer, threads.answer_footer(self.bot, answer, place, offer))
        pauses = self.bot.send_pauses
        if draft.sent is not None:
            sent = await replies.finish_reply(draft.sent, message, pages, FeedbackView(),
                                              pauses=pauses)
        else:
            sent = await replies.reply_pages(message, pages, FeedbackView(), pauses=pauses)
        self.bot.metrics.answered("message", answer.found, time.monotonic() - started)
        await threads.after_answer(self.bot, guild_id, place, sent, offer)

    async def answer(self, guild_id: int | None, question: actions.Question,
                     show: Callable[[render.Page], Awaitable[None]]) -> tuple[Answer, int]:
        """The answer, on the server's lane of the worker pool, with the drafts of a written
        one shown as they come; (the answer, drafts shown)."""
        core = self.bot.core

        def run(offer: drafts.Offer) -> Awaitable[Answer]:
            return self.bot.worker.run(guild_id, actions.ask, core, question,
                                       offer if core.writes else None)

        return await drafts.relay(run, show)

    async def refuse(self, message: discord.Message, text: str) -> None:
        """Reply with a refusal, unless this member was refused moments ago."""
        if self.bot.limits.may_tell(message.author.id):
            await replies.reply_text(message, text, pauses=self.bot.send_pauses)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Ask(host_of(bot)))
