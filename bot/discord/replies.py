"""Sending and editing, always with `AllowedMentions.none()` (the client default is the same;
repeating it on every call keeps a future default change from pinging anyone). Text replies
also suppress link previews: a link in an article's title never unfurls under the bot's name.

An answer is sent through `bot/discord/delivery.py`: retried while the API falters, never posted
twice. An answer whose embeds Discord refuses (`delivery.refuses_embeds`) is sent once more,
as plain text (`bot/discord/render_plain.py`), so that the member is not left with a "thinking"
message and nothing after it; any other refusal would meet plain text as well. An answer that
cannot be delivered (its question was deleted meanwhile, Discord refused it, or the API stayed
unreachable past the retries) is logged in one line with its reason, and the answer path goes
on with what was sent; an interaction's answer that Discord refused goes to the bot's error
handler instead, which logs it and tells the member.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.discord import render
from bot.discord.delivery import (
    PAUSES,
    TRANSIENT,
    Undelivered,
    is_gone,
    nonce,
    persist,
    refuses_embeds,
)
from bot.discord.render_plain import answer_text

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
#: What a send may end in, besides success: a refusal, or the network past the retries.
FAILED = (discord.HTTPException, Undelivered, *TRANSIENT)


async def say(interaction: discord.Interaction, text: str, *, ephemeral: bool = True) -> None:
    """A short text reply: the response if none was sent yet, else a followup (which fills a
    deferred "thinking" message)."""
    text = render.clip(text, render.MESSAGE_MAX)
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS,
                                        suppress_embeds=True)
    else:
        await interaction.response.send_message(
            text, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS, suppress_embeds=True)


async def send_pages(interaction: discord.Interaction, pages: list[render.Page],
                     view: discord.ui.View | None = None, *,
                     pauses: tuple[float, ...] = PAUSES) -> list[discord.Message]:
    """An answer after a defer: the first page fills the deferred message (with `view`),
    further pages follow; refused, the answer in plain text instead. The messages sent."""
    sent: list[discord.Message] = []
    try:
        for i, embeds in enumerate(pages):
            send = _first_followup if i == 0 else _followup
            sent.append(await persist(functools.partial(send, interaction, embeds, view), pauses))
    except FAILED as exc:
        async def plain(text: str) -> list[discord.Message]:
            await say(interaction, text, ephemeral=False)
            return [*sent, await interaction.original_response()]

        sent = await _instead(pages, exc, plain, interaction.channel_id, raises=True) or sent
    finally:
        _release(view)
    return sent


async def _first_followup(interaction: discord.Interaction, embeds: render.Page,
                          view: discord.ui.View | None, tried: int) -> discord.Message:
    # A retry edits the deferred message: the same outcome whether the first try landed
    # (and only its answer was lost) or not, where a second followup could show it twice.
    extra: dict[str, Any] = {"view": view} if view is not None else {}
    if tried:
        return await interaction.edit_original_response(embeds=embeds,
                                                        allowed_mentions=NO_MENTIONS, **extra)
    return await interaction.followup.send(embeds=embeds, allowed_mentions=NO_MENTIONS,
                                           wait=True, **extra)


async def _followup(interaction: discord.Interaction, embeds: render.Page,
                    view: discord.ui.View | None, tried: int) -> discord.Message:
    return await interaction.followup.send(embeds=embeds, allowed_mentions=NO_MENTIONS,
                                           wait=True)


async def reply_pages(message: discord.Message, pages: list[render.Page],
                      view: discord.ui.View | None = None, *,
                      pauses: tuple[float, ...] = PAUSES) -> list[discord.Message]:
    """An answer to a mention, as replies that ping nobody (the author included); refused,
    the answer in plain text instead. The messages sent."""
    sent: list[discord.Message] = []
    try:
        for i, embeds in enumerate(pages):
            extra: dict[str, Any] = {"view": view} if view is not None and i == 0 else {}
            sent.append(await _reply(message, pauses, embeds=embeds, **extra))
    except FAILED as exc:
        async def plain(text: str) -> list[discord.Message]:
            return [*sent, await _reply(message, pauses, suppress_embeds=True,
                                        content=render.clip(text, render.MESSAGE_MAX))]

        sent = await _instead(pages, exc, plain, message.channel.id) or sent
    finally:
        _release(view)
    return sent


async def reply_text(message: discord.Message, text: str, *,
                     pauses: tuple[float, ...] = PAUSES) -> discord.Message | None:
    """A text reply; None (logged) if it could not be delivered."""
    try:
        return await _reply(message, pauses, content=render.clip(text, render.MESSAGE_MAX),
                            suppress_embeds=True)
    except FAILED as exc:
        _undelivered(message.channel.id, exc)
        return None


async def _reply(message: discord.Message, pauses: tuple[float, ...],
                 **fields: Any) -> discord.Message:
    """One reply that pings nobody, retried under one nonce: Discord answers a retry of a
    reply that did land with the message it made, so it never shows twice."""
    once = nonce()

    async def send(tried: int) -> discord.Message:
        return await message.reply(mention_author=False, allowed_mentions=NO_MENTIONS,
                                   nonce=once, **fields)

    return await persist(send, pauses)


async def edit_original(interaction: discord.Interaction, **fields: Any) -> None:
    """Edit the interaction's original (or deferred) message."""
    await interaction.edit_original_response(allowed_mentions=NO_MENTIONS, **fields)


async def finish_pages(interaction: discord.Interaction, pages: list[render.Page],
                       view: discord.ui.View | None = None, *,
                       pauses: tuple[float, ...] = PAUSES) -> list[discord.Message]:
    """The final answer over a draft already shown in the deferred message: the first page
    replaces the draft (with `view`), further pages follow; refused, plain text replaces it.
    The messages that show the answer."""
    sent: list[discord.Message] = []
    try:
        sent.append(await persist(lambda _: interaction.edit_original_response(
            embeds=pages[0], view=view, allowed_mentions=NO_MENTIONS), pauses))
        for embeds in pages[1:]:
            sent.append(await persist(functools.partial(_followup, interaction, embeds, None),
                                      pauses))
    except FAILED as exc:
        async def plain(text: str) -> list[discord.Message]:
            return [await persist(lambda _: interaction.edit_original_response(
                content=text, embeds=[], view=None, allowed_mentions=NO_MENTIONS), pauses)]

        sent = await _instead(pages, exc, plain, interaction.channel_id, raises=True) or sent
    finally:
        _release(view)
    return sent


async def finish_reply(draft: discord.Message, message: discord.Message,
                       pages: list[render.Page], view: discord.ui.View | None = None, *,
                       pauses: tuple[float, ...] = PAUSES) -> list[discord.Message]:
    """The final answer over a draft replied to a message (`draft`): the first page replaces
    it, further pages are replies; refused, plain text replaces it. The messages that show the
    answer."""
    sent: list[discord.Message] = []
    try:
        sent.append(await persist(lambda _: draft.edit(
            embeds=pages[0], allowed_mentions=NO_MENTIONS, view=view), pauses))
        for embeds in pages[1:]:
            sent.append(await _reply(message, pauses, embeds=embeds))
    except FAILED as exc:
        async def plain(text: str) -> list[discord.Message]:
            return [await persist(lambda _: draft.edit(
                content=render.clip(text, render.MESSAGE_MAX), embeds=[], view=None,
                allowed_mentions=NO_MENTIONS), pauses)]

        sent = await _instead(pages, exc, plain, message.channel.id) or sent
    finally:
        _release(view)
    return sent


async def _instead(pages: list[render.Page], exc: BaseException,
                   plain: Callable[[str], Awaitable[list[discord.Message]]],
                   channel_id: int | None, *, raises: bool = False) -> list[discord.Message] | None:
    """After sending `pages` failed with `exc`: where Discord refused only the embeds, the
    answer as plain text through `plain` (the messages that now show it); otherwise None,
    with the failure logged, or, with `raises`, a refusal raised again for the error handler
    (an interaction's answer: it logs the refusal and tells the member)."""
    text = _plain(pages, exc)
    if text is None:
        if raises and isinstance(exc, discord.HTTPException):
            raise exc
        _undelivered(channel_id, exc)
        return None
    try:
        shown = await plain(text)
    except FAILED as again:
        _undelivered(channel_id, again)
        return None
    _log_fallback(exc)
    return shown


def _plain(pages: list[render.Page], exc: BaseException) -> str | None:
    """The answer in plain text, to send once after Discord refused its embeds with `exc`;
    None for pages that are not an answer, or any other failure (plain text would meet it as
    well: a deleted question, an expired interaction, an unreachable API)."""
    if not refuses_embeds(exc) or not isinstance(pages, render.AnswerPages):
        return None
    return answer_text(pages.answer)


def _undelivered(channel_id: int | None, exc: BaseException) -> None:
    """Log, in one line, a reply (or the rest of one) that did not reach the member, and why."""
    if is_gone(exc):
        # Sent without its reference it would post the question (its title) again, in the
        # channel its author just took it out of.
        log.info("a question in channel %s was deleted before its answer was sent (or the "
                 "answer's draft was); the rest of the answer was dropped", channel_id)
    else:
        log.warning("citebot's reply in channel %s was not delivered: %s", channel_id,
                    describe_refusal(exc))


def _log_fallback(exc: BaseException) -> None:
    log.warning("Discord refused an answer's embeds (%s); sent it as plain text",
                describe_refusal(exc))


def describe_refusal(exc: BaseException) -> str:
    """A refusal on one line: status, Discord's error code and message, or the network error."""
    if isinstance(exc, discord.HTTPException):
        reason = getattr(exc.response, "reason", None) or ""
        text = f"{exc.status} {reason}, code {exc.code}: {exc.text}"
    elif isinstance(exc, Undelivered):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return render.clip(" ".join(text.split()), 300)


def _release(view: discord.ui.View | None) -> None:
    # The persistent instance registered in setup_hook answers every click, before and after a
    # restart; dropping the per-message copy keeps the view store from growing forever.
    if view is not None:
        view.stop()
