"""Polling feeds in the background of `citebot run`.

A task on the event loop asks the core, every few seconds, which feeds are due, and polls them
on the bot's worker pool (never on the loop): each collection's feeds in their own lane of the
pool, at most `feed_concurrency` polls at once, never two for the same host. The core adds its
own bounds (one request per host at a time, the global bound), so a poll here never waits on
another. After a poll, new articles are announced in the feed's channel, if it has one, and a
feed the poll paused is reported there. Once an hour, the retention is applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import discord

from bot.discord import render_feeds, replies
from bot.discord.actions import guild_of
from bot.discord.host import Host
from index.errors import CitebotError
from index.intake.politeness import host_of
from index.intake.poller import PollReport
from index.store import Feed, ShardFilter

log = logging.getLogger(__name__)

RETENTION_EVERY_S = 3600.0
DUE_LOOKAHEAD = 500  # due feeds asked for at once


class FeedLoop:
    """The background poller of one bot."""

    def __init__(self, bot: Host) -> None:
        self.bot = bot
        self.task: asyncio.Task[None] | None = None
        self.polls: dict[int, asyncio.Task[None]] = {}  # feed id -> its poll in progress
        self.hosts: set[str] = set()
        self.wake = asyncio.Event()  # set when a feed is added: look now
        self.stopped = False
        # None until the first retention: monotonic time counts from boot, so no constant
        # stands for "long ago" (0.0 is not an hour ago on a host up for less than one).
        self._retained_at: float | None = None

    @property
    def every(self) -> float:
        """Seconds between two looks for due feeds."""
        return min(30.0, max(0.2, self.bot.settings.feed_interval_s / 4))

    def owns(self, feed: Feed) -> bool:
        """Whether this process polls `feed`: its server is on one of our shards (or, for a
        command-line collection, we serve shard 0)."""
        guild = guild_of(feed.collection)
        settings = self.bot.settings
        return settings.leads if guild is None else settings.serves_guild(guild)

    def shards(self) -> ShardFilter | None:
        """The feeds this process polls, as the store chooses them (None: every feed)."""
        settings = self.bot.settings
        if settings.shard_count is None:
            return None
        return ShardFilter(settings.shard_count, settings.served_shards, settings.leads)

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self._run(), name="citebot-feeds")

    def stop(self) -> None:
        # A flag as well as the cancellations: asyncio.wait_for can swallow a cancellation
        # that lands as the event it waits for is set (a race fixed only in Python 3.12).
        self.stopped = True
        for task in [self.task, *self.polls.values()]:
            if task is not None:
                task.cancel()
        self.task = None

    async def _run(self) -> None:
        while not (self.stopped or self.bot.closing):
            try:
                await self.tick()
            except CitebotError as exc:  # storage trouble: said once per tick, tried again
                log.warning("feed polling: %s", exc)
            except Exception:
                log.exception("feed polling failed; trying again shortly")
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.every)

    async def tick(self) -> None:
        """Start polls for due feeds, as far as the bounds allow; apply retention hourly."""
        settings = self.bot.settings
        limit = settings.feed_concurrency
        if len(self.polls) < limit:
            # Ours only, chosen by the store: another process's overdue feeds (it may be down)
            # never take the places of ours.
            due = await self.bot.worker.quick(self.bot.core.due_feeds, DUE_LOOKAHEAD,
                                              self.shards())
            for feed in due:
                host = host_of(feed.url)
                if feed.id in self.polls or host in self.hosts or not self.owns(feed):
                    continue
                if len(self.polls) >= limit or self.bot.closing or self.stopped:
                    break
                self.hosts.add(host)
                self.polls[feed.id] = asyncio.create_task(self._poll(feed, host),
                                                          name=f"citebot-feed-{feed.id}")
        now = time.monotonic()
        if settings.leads and (self._retained_at is None
                               or now - self._retained_at > RETENTION_EVERY_S):
            self._retained_at = now
            removed = await self.bot.worker.run("retention", self.bot.core.apply_retention)
            if removed:
                log.info("retention removed %d article(s)", removed)

    async def _poll(self, feed: Feed, host: str) -> None:
        try:
            report = await self.bot.worker.run(("feeds", feed.collection),
                                               self.bot.core.poll_feed, feed.id)
            self.bot.metrics.polled(report.status)
            self.bot.metrics.added("feed", [t.status for t in report.taken])
            await self.announce(report)
        except CitebotError as exc:
            self.bot.metrics.polled(None)
            log.warning("feed %d: %s", feed.id, exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.bot.metrics.polled(None)
            log.exception("feed %d: the poll failed unexpectedly", feed.id)
        finally:
            self.hosts.discard(host)
            self.polls.pop(feed.id, None)
            self.wake.set()

    async def announce(self, report: PollReport) -> None:
        """New articles, or the news that this poll paused the feed, in the feed's channel."""
        channel_id = report.feed.channel_id
        if channel_id is None or not (report.added or report.status == "paused"):
            return
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            log.info("feed %d: its channel %d is gone or not a text channel", report.feed.id,
                     channel_id)
            return
        try:
            if report.status == "paused":
                await channel.send(render_feeds.paused_notice(report.feed),
                                   allowed_mentions=replies.NO_MENTIONS, suppress_embeds=True)
            for content, embeds in render_feeds.announcements(report.feed, report.added):
                await channel.send(content, embeds=embeds, allowed_mentions=replies.NO_MENTIONS)
        except discord.HTTPException as exc:
            log.warning("feed %d: could not announce in channel %d: %s", report.feed.id,
                        channel_id, replies.describe_refusal(exc))
