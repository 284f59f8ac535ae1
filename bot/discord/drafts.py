"""Written answers filling in on Discord: drafts come from the worker thread as the model's
statements are verified, and the message is edited with the latest one, at most once every
`EDIT_INTERVAL_S` (Discord allows about five edits of a message in five seconds; drafts that
come faster are skipped for the newest). A draft holds only verified statements and their
quotes; the final answer then replaces it (`replies.finish_pages`, `replies.finish_reply`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import discord

from bot.discord import render, replies
from bot.discord.delivery import TRANSIENT
from retrieval.models import Answer

log = logging.getLogger(__name__)

EDIT_INTERVAL_S = 1.5
Offer = Callable[[Answer], None]


async def relay(run: Callable[[Offer], Awaitable[Answer]],
                show: Callable[[render.Page], Awaitable[None]], *,
                interval: float = EDIT_INTERVAL_S) -> tuple[Answer, int]:
    """Run ``run(offer)`` (core work that calls ``offer`` from its thread with each draft)
    and ``show`` the newest draft at most once per ``interval``; (the answer, drafts shown).
    A draft Discord refuses ends the drafts, not the answer."""
    loop = asyncio.get_running_loop()
    newest: list[Answer] = []
    wake = asyncio.Event()

    def put(draft: Answer) -> None:
        newest[:] = [draft]
        wake.set()

    def offer(draft: Answer) -> None:  # on the worker thread
        loop.call_soon_threadsafe(put, draft)

    task = asyncio.ensure_future(run(offer))
    shown, showing = 0, True
    last: float | None = None  # no draft shown yet (not a constant: loop time starts at boot)
    while not task.done():
        waiter = asyncio.ensure_future(wake.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        wake.clear()
        pause = 0.0 if last is None else last + interval - loop.time()
        if not task.done() and pause > 0:
            await asyncio.wait({task}, timeout=pause)
        if task.done() or not newest or not showing:
            continue
        draft = newest.pop()
        try:
            await show(render.answer_pages(draft)[0])
            shown += 1
        except (discord.HTTPException, *TRANSIENT) as exc:
            log.warning("Discord refused a draft (%s); the answer comes whole",
                        replies.describe_refusal(exc))
            showing = False
        last = loop.time()
    return await task, shown


class ReplyDrafts:
    """Drafts of an answer to a mention: the first is a reply, the next ones edit it."""

    def __init__(self, message: discord.Message) -> None:
        self.message = message
        self.sent: discord.Message | None = None

    async def show(self, page: render.Page) -> None:
        if self.sent is None:
            self.sent = await self.message.reply(embeds=page, mention_author=False,
                                                 allowed_mentions=replies.NO_MENTIONS)
        else:
            await self.sent.edit(embeds=page, allowed_mentions=replies.NO_MENTIONS)
