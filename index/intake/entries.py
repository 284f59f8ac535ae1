"""A feed's entries, or links posted in a watched channel, turned into articles.

Deduplication starts before anything is fetched. An entry is known by up to three keys: its
GUID, its canonical URL (host in lower case, no fragment, no tracking parameters) and a hash
of what it says (title, summary, content). An entry with any key the feed has seen is that
entry again: unchanged, it costs nothing (its new keys are remembered as aliases, so a feed
that renumbers its GUIDs or changes its links' query strings is recognised next time from
either); changed (same GUID or URL, new text), its article is updated in place. A GUID or URL
that several entries of one document share identifies none of them and is not used. After a
fetch the indexer's own checks (same id, canonical URL or content as any article of the
collection) catch what is left.

Every new article is written to the intake log (its collection, its origin, when): the daily
quota and the retention read it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.errors import (
    BlockedURLError,
    CitebotError,
    ExtractionError,
    TooLargeError,
    UnsupportedContentError,
)
from index.indexer import AddResult, Hints, Indexer
from index.ingest.feeds import FeedEntry
from index.ingest.prepare import article_id_for, canonical_url
from index.intake.politeness import HostGate
from index.models import Article
from index.store import Feed, FeedStore, SeenEntry, Storage

MAX_ATTEMPTS = 3  # an entry that keeps failing for a passing reason is tried this often
DAY = 86_400.0
# Failures that trying again cannot mend: the entry is not tried again unless it changes.
PERMANENT = (BlockedURLError, UnsupportedContentError, TooLargeError, ExtractionError)


@dataclass(frozen=True)
class Taken:
    """What became of one entry or link: "added", "updated" or "unchanged" with its article,
    "failed" with the reason (`retry`: it is tried again on a later poll), or "deferred" (a
    quota; it is taken on a later poll)."""

    link: str | None
    title: str
    status: str
    article: Article | None = None
    error: str | None = None
    retry: bool = False

    @property
    def waiting(self) -> bool:
        """Whether a later poll has work left with this entry."""
        return self.status == "deferred" or (self.status == "failed" and self.retry)


@dataclass(frozen=True)
class Pending:
    """An entry to work on, its keys, and what the feed knew of it (changed, or failed)."""

    entry: FeedEntry
    keys: tuple[str, ...]
    known: SeenEntry | None


def entry_keys(entry: FeedEntry, shared: Counter[str] | None = None) -> tuple[str, ...]:
    """The keys an entry is known by, leaving out those in `shared` more than once."""
    url = canonical_url(entry.link) if entry.link else None
    keys = [f"guid:{entry.guid}" if entry.guid else "", f"url:{url}" if url else ""]
    usable = [k for k in keys if k and (shared is None or shared[k] <= 1)]
    return (*usable, f"hash:{entry.fingerprint}")


def sort_out(storage: FeedStore, feed_id: int,
             entries: Sequence[FeedEntry]) -> tuple[list[Pending], list[SeenEntry]]:
    """The entries that need work (new, changed, or failed and worth another try), and the
    aliases to remember (new keys of entries the feed has seen)."""
    shared = Counter(k for e in entries for k in entry_keys(e)[:-1])
    keyed = [(e, entry_keys(e, shared)) for e in entries]
    seen = storage.seen_entries(feed_id, [k for _, keys in keyed for k in keys])
    todo: list[Pending] = []
    aliases: list[SeenEntry] = []
    claimed: set[str] = set()
    for entry, keys in keyed:
        if claimed.intersection(keys):  # the same entry twice in one document
            continue
        claimed.update(keys)
        match = next((seen[k] for k in keys if k in seen), None)
        if match is None:
            todo.append(Pending(entry, keys, None))
        elif match.article_id is None and (match.attempts < MAX_ATTEMPTS
                                           or match.fingerprint != entry.fingerprint):
            todo.append(Pending(entry, keys, match))  # failed before: try again
        elif match.article_id is not None and match.fingerprint != entry.fingerprint:
            todo.append(Pending(entry, keys, match))  # changed: update its article
        else:
            aliases += [SeenEntry(k, match.article_id, match.fingerprint, match.attempts,
                                  match.error) for k in keys if k not in seen]
    return todo, aliases


@dataclass(frozen=True)
class IntakeQuota:
    """How much news may come in by itself: new articles a collection may take in a day, and
    entries one poll of one feed turns into articles."""

    articles_per_day: int
    entries_per_poll: int


class EntryIntake:
    """Adds entries and links as articles, within the collection's daily quota."""

    def __init__(self, *, quota: IntakeQuota, storage: Storage, indexer: Indexer,
                 gate: HostGate, clock: Callable[[], float]) -> None:
        self.quota = quota
        self.storage = storage
        self.indexer = indexer
        self.gate = gate
        self.clock = clock

    def room(self, collection: str) -> int:
        """New articles the collection may still take in today (a sliding 24 hours)."""
        used = self.storage.intake_since(collection, self.clock() - DAY)
        return max(0, self.quota.articles_per_day - used)

    def take(self, feed: Feed, todo: Sequence[Pending]) -> list[Taken]:
        """Work on up to `feed_entries_per_poll` pending entries; the rest are deferred. Each
        new article is taken in the collection's intake turn, the quota read within it, so
        processes taking in for one collection at once share one quota."""
        out: list[Taken] = []
        for number, pending in enumerate(todo):
            updating = pending.known is not None and pending.known.article_id is not None
            if number >= self.quota.entries_per_poll:
                out.append(Taken(pending.entry.link, pending.entry.title, "deferred"))
            elif updating:  # an article already taken in: no quota used
                out.append(self._one(feed, pending))
            else:
                with self.storage.intake_turn(feed.collection):
                    if self.room(feed.collection) <= 0:
                        out.append(Taken(pending.entry.link, pending.entry.title, "deferred"))
                    else:
                        out.append(self._one(feed, pending))
        return out

    def _one(self, feed: Feed, pending: Pending) -> Taken:
        entry, known = pending.entry, pending.known
        article_id = known.article_id if known is not None else None
        try:
            result = self.add_entry(feed.collection, entry, source=feed.title,
                                    added_by=f"feed:{feed.id}", article_id=article_id)
        except CitebotError as exc:
            before = known.attempts if known and known.fingerprint == entry.fingerprint else 0
            attempts = MAX_ATTEMPTS if isinstance(exc, PERMANENT) else before + 1
            self._remember(feed.id, pending, None, attempts, str(exc)[:500])
            return Taken(entry.link, entry.title, "failed", error=str(exc),
                         retry=attempts < MAX_ATTEMPTS)
        self._remember(feed.id, pending, result.article.id, 0, None)
        if result.status == "added":
            self.storage.record_intake(feed.collection, result.article.id, f"feed:{feed.id}",
                                       self.clock())
        return Taken(entry.link, entry.title, result.status, result.article)

    def _remember(self, feed_id: int, pending: Pending, article_id: str | None, attempts: int,
                  error: str | None) -> None:
        fingerprint = pending.entry.fingerprint
        self.storage.mark_seen(feed_id, [SeenEntry(k, article_id, fingerprint, attempts, error)
                                         for k in pending.keys], self.clock())

    def add_entry(self, collection: str, entry: FeedEntry, *, source: str | None,
                  added_by: str, article_id: str | None) -> AddResult:
        """The entry as an article: its own text when it carries the whole article, else the
        page its link points to (fetched like any link, one request at a time per host)."""
        if entry.content:
            return self.indexer.add_text(
                collection, title=entry.title or "Untitled", text=entry.content, url=entry.link,
                source=source, published=entry.published, author=entry.author,
                article_id=article_id, added_by=added_by)
        if not entry.link:
            raise ExtractionError("The entry has no web link, and not enough text to be an "
                                  "article.")
        hints = Hints(article_id=article_id, published=entry.published, source=source,
                      author=entry.author)
        with self.gate.hold(entry.link):
            return self.indexer.add_url(collection, entry.link, title=entry.title or None,
                                        added_by=added_by, hints=hints)

    def add_links(self, collection: str, urls: Sequence[str], *, added_by: str,
                  origin: str) -> list[Taken]:
        """Add links posted in a watched channel: a link already indexed is not fetched again;
        each new article counts against the daily quota (read in the collection's intake
        turn, as for feeds)."""
        out: list[Taken] = []
        for url in urls:
            known = self.storage.find_existing(collection, article_id_for(url, ""),
                                               canonical_url(url), "")
            if known is not None:
                out.append(Taken(url, known.title, "unchanged", known))
                continue
            with self.storage.intake_turn(collection):
                if self.room(collection) <= 0:
                    out.append(Taken(url, "", "deferred", error=quota_used(
                        self.quota.articles_per_day)))
                else:
                    out.append(self._link(collection, url, added_by, origin))
        return out

    def _link(self, collection: str, url: str, added_by: str, origin: str) -> Taken:
        try:
            with self.gate.hold(url):
                result = self.indexer.add_url(collection, url, added_by=added_by)
        except CitebotError as exc:
            return Taken(url, "", "failed", error=str(exc))
        if result.status == "added":
            self.storage.record_intake(collection, result.article.id, origin, self.clock())
        return Taken(url, result.article.title, result.status, result.article)


def quota_used(per_day: int) -> str:
    return (f"This server has taken in {per_day} new articles from feeds and watched channels "
            "in the last 24 hours, its limit; more come in as the day goes on.")
