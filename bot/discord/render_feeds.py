"""What the bot shows about news that comes in by itself: feed lists, announcements of new
articles, watched channels. Feed titles, article titles and errors come from outside and are
made inert (`render.sanitize`) like article text."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import discord

from bot.discord.render import (
    COLOR,
    DESCRIPTION_MAX,
    EMBEDS_PER_MESSAGE,
    MESSAGE_MAX,
    TITLE_MAX,
    clip,
    safe_url,
    sanitize,
)
from index.intake.entries import Taken
from index.models import Article
from index.store import Feed

INDEXED = "\u2705"  # the reaction on a message whose links were indexed
ANNOUNCED_MAX = EMBEDS_PER_MESSAGE  # articles shown at once; more are counted, not shown
NEEDS_CONTENT_INTENT = (
    "citebot cannot read messages here: watching a channel needs Discord's **Message Content** "
    "intent. The bot's owner enables it on the Bot page of the developer portal, sets "
    "`CITEBOT_DISCORD_MESSAGE_CONTENT=true` and restarts citebot (see docs/DISCORD.md).")
NOT_WATCHED = "That channel is not watched."
DOT = " \u00b7 "


def _name(feed: Feed) -> str:
    return sanitize(clip(feed.title or feed.url, 120)) or "Untitled feed"


def _link(feed: Feed) -> str:
    url = safe_url(feed.url)
    return f"<{url}>" if url else sanitize(clip(feed.url, 200))


def subscribed(feed: Feed, channel_id: int | None) -> str:
    where = (f" New articles are announced in <#{channel_id}>." if channel_id
             else " New articles are added quietly.")
    return (f"Following **{_name(feed)}** ({_link(feed)}) as feed `{feed.id}`.{where} The first "
            "ones arrive within a few minutes; `/ask` finds them once they do.")


def removed(feed: Feed) -> str:
    return (f"No longer following **{_name(feed)}**. The articles it brought stay; remove them "
            "with `/remove` if you like.")


def _ago(seconds: float) -> str:
    seconds = abs(seconds)
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def feed_line(feed: Feed, now: float) -> str:
    """One feed: number, title and address, then its state."""
    head = f"`{feed.id}` **{_name(feed)}** {_link(feed)}"
    facts = [f"{feed.articles} article{'s' * (feed.articles != 1)}"]
    if feed.channel_id:
        facts.append(f"announced in <#{feed.channel_id}>")
    if feed.paused:
        state = f"\u23f8\ufe0f **Paused**: {sanitize(clip(feed.paused, 300))}"
    else:
        when = feed.next_poll_at - now
        state = "next poll " + ("now" if when <= 0 else f"in {_ago(when)}")
        if feed.last_error:
            row = f" ({feed.failures} in a row)" if feed.failures else ""  # 0: a setting refused it
            state += f" \u00b7 \u26a0\ufe0f last poll failed{row}: " + \
                sanitize(clip(feed.last_error, 200))
    return f"{head}\n{DOT.join([*facts, state])}"


def feeds_embed(feeds: Sequence[Feed], limit: int, now: float | None = None) -> discord.Embed:
    """/feeds list: every feed with its state; paused ones say why."""
    now = time.time() if now is None else now
    embed = discord.Embed(title="Feeds this server follows", colour=COLOR)
    lines: list[str] = []
    for feed in feeds:
        line = feed_line(feed, now)
        if sum(len(x) + 2 for x in lines) + len(line) > DESCRIPTION_MAX - 60:
            lines.append(f"\u2026 and {len(feeds) - len(lines)} more")
            break
        lines.append(line)
    embed.description = "\n\n".join(lines) or (
        "None yet. Follow one with `/feeds add url:https://... channel:#news`.")
    embed.set_footer(text=f"{len(feeds)} of {limit} feeds \u00b7 a paused feed resumes when "
                     "it is added again")
    return embed


def paused_notice(feed: Feed) -> str:
    return clip(f"Stopped polling the feed **{_name(feed)}** ({_link(feed)}): "
                f"{sanitize(feed.paused or 'it kept failing')}. Someone with Manage Server can "
                "add it again with `/feeds add` to resume.", MESSAGE_MAX)


def article_embed(article: Article, feed: Feed) -> discord.Embed:
    """A new article: title (linking to it), source and date; nothing else."""
    url = safe_url(article.url)
    embed = discord.Embed(title=clip(sanitize(article.title), TITLE_MAX) or "Untitled",
                          url=url if url and len(url) <= 1024 else None, colour=COLOR)
    facts = [sanitize(clip(x, 100)) for x in (article.source or feed.title,
                                             (article.published or "")[:10]) if x]
    embed.description = DOT.join(facts) or None
    return embed


def announcements(feed: Feed, articles: Sequence[Article]) -> Iterator[tuple[str | None,
                                                                             list[discord.Embed]]]:
    """One message for a poll's new articles: an embed each, up to ANNOUNCED_MAX; more are
    counted in the message's text."""
    if not articles:
        return
    shown = [article_embed(a, feed) for a in articles[:ANNOUNCED_MAX]]
    extra = len(articles) - len(shown)
    content = (f"{len(articles)} new articles from **{_name(feed)}** (the first "
               f"{len(shown)} below; `/articles` lists them all)." if extra else None)
    yield content, shown


def watching(channel_id: int) -> str:
    return (f"Watching <#{channel_id}>: links members post there are added to this server's "
            f"articles. I react with {INDEXED} to each message I indexed, and reply when I "
            "could not.")


def unwatched(channel_id: int) -> str:
    return f"No longer watching <#{channel_id}>."


def link_failures(taken: Sequence[Taken]) -> str | None:
    """The reply to a watched message some of whose links could not be indexed (None when
    all were)."""
    failed = [t for t in taken if t.status in ("failed", "deferred")]
    if not failed:
        return None
    lines = ["Could not index " + ("this link:" if len(failed) == 1 else "these links:")]
    for t in failed[:5]:
        shown = f"<{url}>" if (url := safe_url(t.link)) and len(url) <= 300 else "a link"
        lines.append(f"\u2022 {shown}: {sanitize(clip(t.error or 'it failed', 300))}")
    return clip("\n".join(lines), MESSAGE_MAX)
