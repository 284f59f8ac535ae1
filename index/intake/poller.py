"""Subscribing to feeds and polling them.

One poll is one conditional GET (If-None-Match / If-Modified-Since, with the validators of the
last poll that left nothing pending): a 304, or a body identical to the last one, ends it with
no other work. Otherwise the feed is parsed, its entries sorted out (``entries.sort_out``) and
up to ``feed_entries_per_poll`` of them taken in. The next poll is scheduled by
``politeness.next_poll``; a failed poll backs off exponentially, and after
``feed_failures_to_pause`` failures in a row (or at once, for an address that is refused) the
feed is paused with the reason, until it is subscribed again. A refusal by this server's own
settings (``refusals``) is reported and tried again later, never counted toward pausing.

A poll never raises for its feed: whatever goes wrong (the network, the document, storage, a
bug) ends it as a failed poll, logged once, its next poll moved forward. When even that cannot
be stored, the feed is held back in memory for the same time, so no poll loop can spin on it.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from threading import Event, Lock
from typing import TYPE_CHECKING

from index.errors import (
    ArticleError,
    BlockedURLError,
    CitebotError,
    FeedError,
    LimitReachedError,
    NotFoundError,
)
from index.indexer import Indexer, IndexerOptions
from index.ingest.decoding import pick_charset
from index.ingest.feed_text import storable
from index.ingest.feeds import FEED_ACCEPT, FEED_TYPES, ParsedFeed, discover, looks_like_html
from index.ingest.feeds import parse_feed as _parse_feed
from index.ingest.fetch import FetchPolicy, Resolver, Response, fetch_response
from index.intake.entries import DAY, EntryIntake, IntakeQuota, Taken, sort_out
from index.intake.politeness import HostGate, host_of, next_poll
from index.intake.refusals import advice, refusing_setting
from index.models import Article
from index.store import Feed, ShardFilter, Storage

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

MAX_DISCOVERED = 3  # feeds a page names that are tried, in its order


@dataclass(frozen=True)
class PollReport:
    """One poll: the feed after it, what happened ("new", "quiet", "not-modified",
    "unchanged", "failed", "paused" by this poll, "skipped" as paused), and each entry taken."""

    feed: Feed
    status: str
    taken: tuple[Taken, ...] = ()
    error: str | None = None

    @property
    def added(self) -> list[Article]:
        """The new articles, in the feed's order."""
        return [t.article for t in self.taken if t.status == "added" and t.article]

    @property
    def pending(self) -> int:
        """Entries left for a later poll (the per-poll cap, the daily quota)."""
        return sum(t.status == "deferred" for t in self.taken)


@dataclass(frozen=True)
class PollerOptions:
    """What polling reads of the settings (docs/FEEDS.md): intervals, pausing, the per-server
    and daily limits, retention, and the fetch policy of feed requests."""

    interval_s: float
    max_interval_s: float
    failures_to_pause: int
    max_per_server: int
    concurrency: int
    retention_days: float | None
    quota: IntakeQuota
    fetch: FetchPolicy

    @classmethod
    def from_settings(cls, settings: Settings) -> PollerOptions:
        return cls(
            interval_s=settings.feed_interval_s, max_interval_s=settings.feed_max_interval_s,
            failures_to_pause=settings.feed_failures_to_pause,
            max_per_server=settings.feed_max_per_server, concurrency=settings.feed_concurrency,
            retention_days=settings.feed_retention_days,
            quota=IntakeQuota(articles_per_day=settings.feed_articles_per_day,
                              entries_per_poll=settings.feed_entries_per_poll),
            fetch=replace(IndexerOptions.from_settings(settings).fetch,
                          max_bytes=settings.feed_max_bytes,
                          max_decoded_bytes=settings.feed_max_bytes))


class FeedPoller:
    """Feeds of every collection: subscriptions, polls, retention."""

    def __init__(self, *, options: PollerOptions, storage: Storage, indexer: Indexer,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None,
                 resolver: Resolver | None = None) -> None:
        """`resolver` (host, port) -> addresses replaces the system's for feed requests."""
        self.options = options
        self.storage = storage
        self.indexer = indexer
        self.clock = clock
        self.rng = rng or random.Random()
        self.resolver = resolver
        self.gate = HostGate(options.concurrency)
        self.entries = EntryIntake(quota=options.quota, storage=storage, indexer=indexer,
                                   gate=self.gate, clock=clock)
        self.policy = options.fetch
        self.held: dict[int, float] = {}  # feed id -> no poll before (its failure not stored)
        self._held_lock = Lock()  # polls run on several threads

    # -- subscriptions --------------------------------------------------------------------
    def subscribe(self, collection: str, url: str, *, channel_id: int | None = None,
                  added_by: str | None = None) -> Feed:
        """Subscribe `collection` to the feed at `url`, or to the feed a page at `url` names;
        subscribing again resumes a paused feed (FeedError, LimitReachedError)."""
        url = url.strip()
        if storable(url) != url:  # a byte that is not UTF-8 on a command line, a NUL
            raise FeedError("That address holds a character that is not text (an invalid byte "
                            "or a control character); check the address and try again.")
        feed_url, parsed = self.find_feed(url)
        current = self.storage.list_feeds(collection)
        limit = self.options.max_per_server
        if len(current) >= limit and all(f.url != feed_url for f in current):
            raise LimitReachedError(f"This collection follows {len(current)} feeds, its limit "
                                    f"of {limit}; remove one first.")
        return self.storage.add_feed(collection, feed_url, title=parsed.title,
                                     channel_id=channel_id, added_by=added_by, now=self.clock())

    def find_feed(self, url: str) -> tuple[str, ParsedFeed]:
        """(feed address, the feed): `url` itself, or the first readable feed its page names."""
        response = self._get(url)
        if not looks_like_html(response.body, response.media_type):
            return url, parse_feed(response)
        html = response.body.decode(pick_charset(response.body, response.charset, "text/html"),
                                    errors="replace")
        for candidate in discover(html, response.final_url, MAX_DISCOVERED):
            try:
                return candidate, parse_feed(self._get(candidate))
            except (ArticleError, FeedError) as exc:
                log.info("discovered feed %s not readable: %s", candidate, exc)
        raise FeedError("That page names no feed citebot can read (RSS, Atom or JSON Feed, in "
                        'a <link rel="alternate"> in its head); give the feed\'s own address.')

    def unsubscribe(self, collection: str, ref: str) -> Feed:
        """Remove a feed, by its number or its address; its articles stay."""
        ref = ref.strip()
        for feed in self.storage.list_feeds(collection):
            if ref in (str(feed.id), feed.url):
                return self.storage.remove_feed(collection, feed.id)
        raise NotFoundError(f"This collection follows no feed {ref[:200]!r}; the feed list "
                            "shows each feed's number and address.")

    # -- polling --------------------------------------------------------------------------
    def poll(self, feed_id: int, *, force: bool = False) -> PollReport:
        """Poll one feed now (a paused one only with `force`). Raises only when the feed
        cannot be read from storage (NotFoundError when it was removed meanwhile)."""
        try:
            feed = self.storage.get_feed(feed_id)
        except NotFoundError:
            raise
        except Exception:
            self._hold(feed_id, self.clock() + self.options.interval_s)
            raise
        if feed.paused and not force:
            return PollReport(feed, "skipped")
        now = self.clock()
        try:
            return self._poll(feed, now)
        except Exception as exc:  # whatever it was, this poll failed: back off
            return self._failed(feed, exc, now)

    def _poll(self, feed: Feed, now: float) -> PollReport:
        validators = {"If-None-Match": feed.etag, "If-Modified-Since": feed.last_modified}
        response = self._get(feed.url, {k: v for k, v in validators.items() if v})
        digest = hashlib.sha256(response.body).hexdigest()
        if response.status == 304 or digest == feed.body_hash:
            status = "not-modified" if response.status == 304 else "unchanged"
            return self._quiet(feed, status, response, now)
        parsed = parse_feed(response)
        todo, aliases = sort_out(self.storage, feed.id, parsed.entries)
        if aliases:
            self.storage.mark_seen(feed.id, aliases, now)
        feed = replace(feed, title=parsed.title or feed.title)
        taken = tuple(self.entries.take(feed, todo))
        complete = not any(t.waiting for t in taken)
        return self._polled(feed, response, parsed, taken, digest if complete else None, now)

    def _polled(self, feed: Feed, response: Response, parsed: ParsedFeed,
                taken: tuple[Taken, ...], digest: str | None, now: float) -> PollReport:
        added = sum(t.status == "added" for t in taken)
        # Validators are only kept when every store takes them (a NUL is refused by PostgreSQL)
        kept = {k: v for k, v in response.headers.items() if storable(v) == v} if digest else {}
        feed = replace(
            feed, etag=kept.get("etag"), last_modified=kept.get("last-modified"),
            body_hash=digest, failures=0, last_error=None, last_polled_at=now,
            articles=feed.articles + added, last_new_at=now if added else feed.last_new_at,
            next_poll_at=self._next(now, 0, ttl_s=parsed.ttl_s, response=response))
        self.storage.save_feed(feed)
        changed = any(t.status in ("added", "updated") for t in taken)
        return PollReport(feed, "new" if changed else "quiet", taken)

    def _quiet(self, feed: Feed, status: str, response: Response, now: float) -> PollReport:
        feed = replace(feed, failures=0, last_error=None, last_polled_at=now,
                       next_poll_at=self._next(now, 0, response=response))
        self.storage.save_feed(feed)
        return PollReport(feed, status)

    def _failed(self, feed: Feed, exc: Exception, now: float) -> PollReport:
        reason = _reason(exc)
        setting = refusing_setting(exc)
        failures, paused = feed.failures + (setting is None), None
        if setting is not None:
            reason = advice(reason, setting)
        elif isinstance(exc, BlockedURLError) or failures >= self.options.failures_to_pause:
            paused = (f"paused after {failures} failed poll{'s' * (failures > 1)} in a row: "
                      f"{reason}")
        retry = getattr(exc, "retry_after", None)
        feed = replace(feed, failures=failures, last_error=reason, paused=paused,
                       last_polled_at=now, next_poll_at=self._next(now, failures, at_least=retry))
        stored = self._store_failure(feed)
        message = "feed %d (%s): poll failed (%d in a row): %s%s"
        args = (feed.id, host_of(feed.url), failures, reason,
                "" if stored else "; that could not be stored either, so it waits in memory")
        if setting is not None and stored:  # the operator's to mend: said louder
            log.warning(message, *args)
        elif isinstance(exc, CitebotError) and stored:
            log.info(message, *args)
        else:  # a bug or storage trouble: the one record of it, with the traceback
            log.warning(message, *args, exc_info=exc)
        return PollReport(feed, "paused" if paused else "failed", error=reason)

    def _store_failure(self, feed: Feed) -> bool:
        try:
            self.storage.save_feed(feed)
        except Exception:
            self._hold(feed.id, feed.next_poll_at)
            return False
        self._hold(feed.id, None)
        return True

    def _hold(self, feed_id: int, until: float | None) -> None:
        with self._held_lock:
            if until is None:
                self.held.pop(feed_id, None)
            else:
                self.held[feed_id] = until

    def _next(self, now: float, failures: int, *, ttl_s: float | None = None,
              response: Response | None = None, at_least: float | None = None) -> float:
        return next_poll(now, interval=self.options.interval_s,
                         max_interval=self.options.max_interval_s, failures=failures,
                         ttl_s=ttl_s, headers=response.headers if response else None,
                         at_least=at_least, rng=self.rng)

    def _get(self, url: str, headers: dict[str, str] | None = None) -> Response:
        with self.gate.hold(url):
            return fetch_response(url, self.policy, media_types=FEED_TYPES, accept=FEED_ACCEPT,
                                  headers=headers, resolver=self.resolver)

    def due(self, limit: int = 500, shards: ShardFilter | None = None) -> list[Feed]:
        """Feeds whose next poll is due, most overdue first (not those held back; with
        ``shards``, one process's)."""
        now = self.clock()
        with self._held_lock:
            for feed_id in [k for k, until in self.held.items() if until <= now]:
                del self.held[feed_id]
            held = set(self.held)
        return [f for f in self.storage.due_feeds(now, limit, shards) if f.id not in held]

    def poll_due(self, *, stop: Event | None = None, limit: int = 500) -> list[PollReport]:
        """Poll every due feed once: one lane per host (its feeds one after another), lanes
        side by side up to the concurrency bound; stops between feeds once `stop` is set."""
        lanes: dict[str, list[Feed]] = {}
        for feed in self.due(limit):
            lanes.setdefault(host_of(feed.url), []).append(feed)

        def run(lane: list[Feed]) -> list[PollReport]:
            reports = []
            for feed in lane:
                if stop and stop.is_set():
                    break
                try:
                    reports.append(self.poll(feed.id))
                except NotFoundError:
                    pass  # removed since it was found due
                except Exception:
                    log.warning("feed %d: could not be read to poll it", feed.id, exc_info=True)
            return reports

        workers = max(1, min(self.gate.concurrency, len(lanes)))
        with ThreadPoolExecutor(workers, thread_name_prefix="citebot-feeds") as pool:
            return [report for reports in pool.map(run, lanes.values()) for report in reports]

    def apply_retention(self, limit: int = 1000) -> int:
        """Remove articles that came in by themselves longer ago than the retention; how
        many (none when no retention is set)."""
        days = self.options.retention_days
        if not days:
            return 0
        removed = 0
        for collection, article_id in self.storage.intake_before(self.clock() - days * DAY,
                                                                  limit):
            try:
                self.indexer.remove(collection, article_id)
                removed += 1
            except NotFoundError:
                pass  # removed by hand meanwhile
            self.storage.forget_intake(collection, article_id)
        return removed


def _reason(exc: Exception) -> str:
    """What a failed poll says about itself (a bug says what to do, not its internals)."""
    if isinstance(exc, CitebotError):
        return str(exc)[:500]
    return (f"citebot failed unexpectedly while polling this feed ({type(exc).__name__}); it "
            "tries again later, and its log has the details.")


def parse_feed(response: Response) -> ParsedFeed:
    """The feed in a response; FeedError when it is not one (or the parser gives up)."""
    try:
        return _parse_feed(response.body, response.final_url)
    except FeedError:
        raise
    except Exception as exc:  # a parser meeting what it never expected: that feed is unusable
        log.warning("feed parser failed on %s: %s", host_of(response.final_url), exc)
        raise FeedError("citebot could not read that feed.") from exc
