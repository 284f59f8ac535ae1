"""Sending and editing, always with `AllowedMentions.none()` (the client default is the same;
repeating it on every call keeps a future default change from pinging anyone). Text replies
also suppress link previews: a link in an article's title never unfurls under the bot's name."""

from __future__ import annotations

from typing import Any

import discord

from bot import render

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
                     view: discord.ui.View | None = None) -> None:
    """An answer after a defer: the first page fills the deferred message (with `view`),
    further pages follow."""
    for i, embeds in enumerate(pages):
        extra: dict[str, Any] = {"view": view} if view is not None and i == 0 else {}
        await interaction.followup.send(embeds=embeds, allowed_mentions=NO_MENTIONS, wait=True,
                                        **extra)
    _release(view)


async def reply_pages(message: discord.Message, pages: list[render.Page],
                      view: discord.ui.View | None = None) -> None:
    """An answer to a mention, as replies that ping nobody (the author included)."""
    for i, embeds in enumerate(pages):
        extra: dict[str, Any] = {"view": view} if view is not None and i == 0 else {}
        await message.reply(embeds=embeds, mention_author=False, allowed_mentions=NO_MENTIONS,
                            **extra)
    _release(view)


async def reply_text(message: discord.Message, text: str) -> None:
    await message.reply(render.clip(text, render.MESSAGE_MAX), mention_author=False,
                        allowed_mentions=NO_MENTIONS, suppress_embeds=True)


async def edit_original(interaction: discord.Interaction, **fields: Any) -> None:
    """Edit the interaction's original (or deferred) message."""
    await interaction.edit_original_response(allowed_mentions=NO_MENTIONS, **fields)


def _release(view: discord.ui.View | None) -> None:
    # The persistent instance registered in setup_hook answers every click, before and after a
    # restart; dropping the per-message copy keeps the view store from growing forever.
    if view is not None:
        view.stop()
