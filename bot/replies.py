"""Sending and editing, always with `AllowedMentions.none()` (the client default is the same;
repeating it on every call keeps a future default change from pinging anyone). Text replies
also suppress link previews: a link in an article's title never unfurls under the bot's name.

An answer whose embeds Discord refuses (400) is sent once more, as plain text
(`bot/render_plain.py`), so that the member is not left with a "thinking" message or a typing
indicator and nothing after it.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot import render
from bot.render_plain import answer_text

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()


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
                     view: discord.ui.View | None = None) -> list[discord.Message]:
    """An answer after a defer: the first page fills the deferred message (with `view`),
    further pages follow; refused, the answer in plain text instead. The messages sent."""
    sent: list[discord.Message] = []
    try:
        for i, embeds in enumerate(pages):
            extra: dict[str, Any] = {"view": view} if view is not None and i == 0 else {}
            sent.append(await interaction.followup.send(
                embeds=embeds, allowed_mentions=NO_MENTIONS, wait=True, **extra))
    except discord.HTTPException as exc:
        text = _plain(pages, exc)
        if text is None:
            raise
        await say(interaction, text, ephemeral=False)
        _log_fallback(exc)
        sent.append(await interaction.original_response())
    finally:
        _release(view)
    return sent


async def reply_pages(message: discord.Message, pages: list[render.Page],
                      view: discord.ui.View | None = None) -> list[discord.Message]:
    """An answer to a mention, as replies that ping nobody (the author included); refused,
    the answer in plain text instead. The messages sent."""
    sent: list[discord.Message] = []
    try:
        for i, embeds in enumerate(pages):
            extra: dict[str, Any] = {"view": view} if view is not None and i == 0 else {}
            sent.append(await message.reply(embeds=embeds, mention_author=False,
                                            allowed_mentions=NO_MENTIONS, **extra))
    except discord.HTTPException as exc:
        text = _plain(pages, exc)
        if text is None:
            raise
        sent.append(await reply_text(message, text))
        _log_fallback(exc)
    finally:
        _release(view)
    return sent


async def reply_text(message: discord.Message, text: str) -> discord.Message:
    return await message.reply(render.clip(text, render.MESSAGE_MAX), mention_author=False,
                               allowed_mentions=NO_MENTIONS, suppress_embeds=True)


async def edit_original(interaction: discord.Interaction, **fields: Any) -> None:
    """Edit the interaction's original (or deferred) message."""
    await interaction.edit_original_response(allowed_mentions=NO_MENTIONS, **fields)


async def finish_pages(interaction: discord.Interaction, pages: list[render.Page],
                       view: discord.ui.View | None = None) -> list[discord.Message]:
    """The final answer over a draft already shown in the deferred message: the first page
    replaces the draft (with `view`), further pages follow; refused, plain text replaces it.
    The messages that show the answer."""
    sent: list[discord.Message] = []
    try:
        sent.append(await interaction.edit_original_response(
            embeds=pages[0], view=view, allowed_mentions=NO_MENTIONS))
        for embeds in pages[1:]:
            sent.append(await interaction.followup.send(
                embeds=embeds, allowed_mentions=NO_MENTIONS, wait=True))
    except discord.HTTPException as exc:
        text = _plain(pages, exc)
        if text is None:
            raise
        sent[:] = [await interaction.edit_original_response(
            content=text, embeds=[], view=None, allowed_mentions=NO_MENTIONS)]
        _log_fallback(exc)
    finally:
        _release(view)
    return sent


async def finish_reply(draft: discord.Message, message: discord.Message,
                       pages: list[render.Page],
                       view: discord.ui.View | None = None) -> list[discord.Message]:
    """The final answer over a draft replied to a message (`draft`): the first page replaces
    it, further pages are replies; refused, plain text replaces it. The messages that show the
    answer."""
    sent: list[discord.Message] = []
    try:
        sent.append(await draft.edit(embeds=pages[0], allowed_mentions=NO_MENTIONS, view=view))
        for embeds in pages[1:]:
            sent.append(await message.reply(embeds=embeds, mention_author=False,
                                            allowed_mentions=NO_MENTIONS))
    except discord.HTTPException as exc:
        text = _plain(pages, exc)
        if text is None:
            raise
        sent[:] = [await draft.edit(content=render.clip(text, render.MESSAGE_MAX), embeds=[],
                                    view=None, allowed_mentions=NO_MENTIONS)]
        _log_fallback(exc)
    finally:
        _release(view)
    return sent


def _plain(pages: list[render.Page], exc: discord.HTTPException) -> str | None:
    """The answer in plain text, to send once after Discord refused its pages with `exc`;
    None for pages that are not an answer, or a refusal plain text would meet as well (no
    permission to send, an expired interaction)."""
    if exc.status != 400 or not isinstance(pages, render.AnswerPages):
        return None
    return answer_text(pages.answer)


def _log_fallback(exc: discord.HTTPException) -> None:
    log.warning("Discord refused an answer's embeds (%s); sent it as plain text",
                describe_refusal(exc))


def describe_refusal(exc: BaseException) -> str:
    """A refusal on one line: status, Discord's error code and message, or the network error."""
    if isinstance(exc, discord.HTTPException):
        reason = getattr(exc.response, "reason", None) or ""
        text = f"{exc.status} {reason}, code {exc.code}: {exc.text}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return render.clip(" ".join(text.split()), 300)


def _release(view: discord.ui.View | None) -> None:
    # The persistent instance registered in setup_hook answers every click, before and after a
    # restart; dropping the per-message copy keeps the view store from growing forever.
    if view is not None:
        view.stop()
