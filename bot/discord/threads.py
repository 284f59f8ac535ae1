"""Follow-up questions on Discord: which conversation a command or a message continues, and
what an answer leaves behind for the next question (the keys that find its conversation, and
a thread to ask in).

A conversation is found by the id of a message that showed one of its answers (each answer
is linked to its conversation once sent). A thread opened on an answer has that message's
id, so inside the thread the channel's id is the key, and a reply to an answer finds its
conversation by the id of the message replied to. A new question starts a conversation
named after itself (the member's message, or the interaction).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import aiohttp
import discord

from bot.discord import actions
from bot.discord.host import Host
from bot.discord.render_threads import footer, thread_name
from bot.discord.replies import describe_refusal
from index.errors import CitebotError
from retrieval.models import Answer

log = logging.getLogger(__name__)

ARCHIVE_MINUTES: tuple[Literal[60, 1440, 4320, 10080], ...] = (60, 1440, 4320, 10080)
HINTS_KEPT = 10_000  # threads remembered as told that plain messages cannot be read


@dataclass(frozen=True)
class Place:
    """Where a question stands: the conversation to ask in, and whether it is a new one
    (whose answer offers a thread) or asked inside the conversation's thread."""

    key: str
    fresh: bool
    in_thread: bool = False


@dataclass(frozen=True)
class ThreadOffer:
    """A thread to open on an answer once it is sent."""

    channel: discord.TextChannel
    name: str


async def place_of_interaction(bot: Host, interaction: discord.Interaction) -> Place:
    """/ask inside a conversation's thread follows up; anywhere else it starts anew."""
    channel = interaction.channel
    if channel is not None and _threadish(channel):
        key = str(channel.id)
        if _owned(bot, channel) or await _exists(bot, interaction.guild_id or 0, key):
            return Place(key, fresh=False, in_thread=True)
    return Place(str(interaction.id), fresh=True)


async def place_of_message(bot: Host, message: discord.Message,
                           mentioned: bool) -> Place | None:
    """A message in a conversation's thread, or a reply to an answer, follows up; any other
    message that mentions the bot starts anew; the rest are not for the bot (None)."""
    guild_id = message.guild.id if message.guild else 0
    channel = message.channel
    if _threadish(channel):
        key = str(channel.id)
        if _owned(bot, channel) or await _exists(bot, guild_id, key):
            return Place(key, fresh=False, in_thread=True)
    for key in _answer_keys(bot, message.reference):
        if await _exists(bot, guild_id, key):
            return Place(key, fresh=False)
    return Place(str(message.id), fresh=True) if mentioned else None


def may_follow_up(message: discord.Message) -> bool:
    """Whether a message that does not mention the bot could still be a follow-up (it is
    in a thread, or a reply): the others are never looked up."""
    return _threadish(message.channel) or message.reference is not None


def thread_offer(bot: Host, place: Place, channel: object,
                 permissions: discord.Permissions | None, question: str) -> ThreadOffer | None:
    """The thread to open on a new conversation's answer, where the channel takes threads
    and the bot may open them and write in them; None for a reply chain instead."""
    if not (bot.settings.discord_threads and place.fresh
            and isinstance(channel, discord.TextChannel)):
        return None
    if permissions is not None and not (permissions.create_public_threads
                                        and permissions.send_messages_in_threads):
        return None
    return ThreadOffer(channel, thread_name(question))


def permissions_in(message: discord.Message) -> discord.Permissions | None:
    """The bot's permissions in a message's channel, when discord.py knows them."""
    channel, guild = message.channel, message.guild
    me = guild.me if guild is not None else None
    if me is None or not isinstance(channel, discord.abc.GuildChannel):
        return None
    return channel.permissions_for(me)


def answer_footer(bot: Host, answer: Answer, place: Place,
                  offer: ThreadOffer | None) -> str | None:
    me = bot.user.display_name if bot.user else "citebot"
    return footer(answer.read_as, thread=offer is not None, in_thread=place.in_thread,
                  reads_messages=bot.reads_messages, me=me)


async def after_answer(bot: Host, guild_id: int, place: Place,
                       sent: list[discord.Message], offer: ThreadOffer | None) -> None:
    """Link the messages that showed the answer to its conversation (so replies to them
    follow up), then open the offered thread on the first. Failures are logged: the answer
    is out, only the follow-up is lost."""
    collection = actions.collection_for(guild_id)
    try:
        if not place.in_thread:
            for message in sent:
                await bot.worker.quick(bot.core.link_conversation, collection, place.key,
                                       str(message.id))
    except CitebotError as exc:
        log.warning("could not keep the conversation of an answer in server %s: %s",
                    guild_id, exc)
        return
    if offer is not None and sent:
        await _open_thread(bot, offer, sent[0])


async def _open_thread(bot: Host, offer: ThreadOffer, message: discord.Message) -> None:
    idle = bot.settings.conversation_idle_minutes
    minutes = next((m for m in ARCHIVE_MINUTES if m >= idle), ARCHIVE_MINUTES[-1])
    try:
        await offer.channel.create_thread(name=offer.name, message=message,
                                          auto_archive_duration=minutes)
    except discord.HTTPException as exc:  # follow-ups still work as replies to the answer
        log.info("could not open a thread on an answer in #%s: %s", offer.channel.id,
                 describe_refusal(exc))
    except (aiohttp.ClientError, OSError) as exc:  # the connection broke (or timed out)
        log.info("could not open a thread on an answer in #%s: %s", offer.channel.id,
                 type(exc).__name__)
    except RuntimeError:  # aiohttp's "Session is closed": the bot closed meanwhile
        if not bot.is_closed():
            raise
        log.info("closed before a thread was opened on an answer in #%s", offer.channel.id)


def first_hint(bot: Host, channel_id: int) -> bool:
    """Whether to tell this thread that plain messages cannot be read (once per thread)."""
    told = bot.hinted_threads
    if channel_id in told:
        return False
    if len(told) >= HINTS_KEPT:
        told.clear()
    told.add(channel_id)
    return True


def _threadish(channel: object) -> bool:
    if isinstance(channel, discord.Thread):
        return True
    return isinstance(channel, discord.PartialMessageable) and channel.guild_id is not None \
        and channel.type in (None, discord.ChannelType.public_thread,
                             discord.ChannelType.private_thread, discord.ChannelType.news_thread)


def _owned(bot: Host, channel: object) -> bool:
    """A thread the bot opened (on one of its answers): every question there is for it,
    even after the conversation expired (it then starts again)."""
    return isinstance(channel, discord.Thread) and bot.user is not None \
        and channel.owner_id == bot.user.id


def _answer_keys(bot: Host, reference: discord.MessageReference | None) -> list[str]:
    """The keys a reply may find its conversation by: the message replied to, and, when it
    is the bot's answer to a new question, that question (the conversation's own id, there
    before the answer was linked to it)."""
    if reference is None or reference.message_id is None:
        return []
    resolved = reference.resolved
    if not isinstance(resolved, discord.Message):
        return [str(reference.message_id)]  # not at hand: storage knows what it showed
    if bot.user is None or resolved.author.id != bot.user.id:
        return []
    keys = [str(reference.message_id)]
    if resolved.reference is not None and resolved.reference.message_id is not None:
        keys.append(str(resolved.reference.message_id))  # the mention it answered
    if resolved.interaction_metadata is not None:
        keys.append(str(resolved.interaction_metadata.id))  # the /ask it answered
    return keys


async def _exists(bot: Host, guild_id: int, key: str) -> bool:
    found = await bot.worker.quick(bot.core.conversation, actions.collection_for(guild_id), key)
    return found is not None
