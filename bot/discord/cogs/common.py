"""Small helpers the cogs share: the server's collection, links in text, article choices."""

from __future__ import annotations

import re

import discord
from discord import app_commands

from bot.discord import actions, render
from bot.discord.host import host_of
from index.errors import ArticleError

MAX_LINKS = 5  # links one "Add article" may add
_LINK = re.compile(r"https?://[^\s<>\"'`|]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}*_~"


def collection(interaction: discord.Interaction) -> str:
    """The invoking server's collection (the tree admits no DM interactions)."""
    return actions.collection_for(interaction.guild_id or 0)


def check_url(url: str) -> str:
    """The URL, stripped, or ArticleError if it is not http(s)."""
    url = url.strip().strip("<>")
    if not _LINK.fullmatch(url):
        raise ArticleError(render.BAD_URL)
    return url


def links_in(message: discord.Message) -> list[str]:
    """Distinct http(s) links in a message's text and embeds, in order, at most MAX_LINKS."""
    texts = [message.content, *(e.url or "" for e in message.embeds)]
    found: dict[str, None] = {}
    for text in texts:
        for match in _LINK.finditer(text):
            found.setdefault(match[0].rstrip(_TRAILING), None)
    return list(found)[:MAX_LINKS]


_CODE = re.compile(r"```.*?(?:```|$)|`[^`]*`", re.DOTALL)
_SPOILER = re.compile(r"\|\|.*?(?:\|\||$)", re.DOTALL)


def posted_links(content: str) -> list[str]:
    """Distinct http(s) links a member posted in a message's text, in order, at most
    MAX_LINKS: links inside code (blocks or inline) and spoilers are not offered."""
    text = _SPOILER.sub(" ", _CODE.sub(" ", content))
    found = {m[0].rstrip(_TRAILING): None for m in _LINK.finditer(text)}
    return list(found)[:MAX_LINKS]


def strip_mention(content: str, user_id: int) -> str:
    """A mention's text without the bot's own mention."""
    return " ".join(re.sub(rf"<@!?{user_id}>", " ", content).split())


async def article_choices(interaction: discord.Interaction,
                          current: str) -> list[app_commands.Choice[str]]:
    """This server's articles whose title or id contains what was typed (ids as values)."""
    bot = host_of(interaction.client)
    found = await bot.worker.quick(actions.find_articles, bot.core, collection(interaction),
                                   current)
    return [app_commands.Choice(name=render.choice_name(a), value=a.id)
            for a in found if len(a.id) <= render.CHOICE_MAX]
