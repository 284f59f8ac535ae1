"""SQLite tables for news that comes in by itself: feed subscriptions and their polling state,
the entries each feed has seen (by every key it was known by), watched channels, and the
intake log (which article came in by itself, when: quotas and retention read it).

Times are Unix seconds (REAL). Every statement is here; ``EmbeddedStorage`` delegates to it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import astuple

from index.errors import NotFoundError
from index.store import feed_rows
from index.store.embedded.failures import translated
from index.store.embedded.sqlite_tx import Connections
from index.store.feed_rows import FEED_COLUMNS
from index.store.protocol import Feed, SeenEntry, ShardFilter, Watched

SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds(
    id INTEGER PRIMARY KEY AUTOINCREMENT, collection TEXT NOT NULL, url TEXT NOT NULL,
    title TEXT, channel_id INTEGER, added_by TEXT, added_at REAL NOT NULL,
    etag TEXT, last_modified TEXT, body_hash TEXT, next_poll_at REAL NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0, paused TEXT, last_error TEXT, last_polled_at REAL,
    last_new_at REAL, articles INTEGER NOT NULL DEFAULT 0,
    UNIQUE(collection, url));
CREATE INDEX IF NOT EXISTS feeds_due ON feeds(next_poll_at) WHERE paused IS NULL;
CREATE TABLE IF NOT EXISTS feed_seen(
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE, key TEXT NOT NULL,
    article_id TEXT, fingerprint TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT, seen_at REAL NOT NULL, PRIMARY KEY(feed_id, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS watched_channels(
    collection TEXT NOT NULL, channel_id INTEGER NOT NULL, added_by TEXT,
    added_at REAL NOT NULL, PRIMARY KEY(collection, channel_id));
CREATE TABLE IF NOT EXISTS intake(
    collection TEXT NOT NULL, article_id TEXT NOT NULL, origin TEXT NOT NULL,
    added_at REAL NOT NULL, PRIMARY KEY(collection, article_id));
CREATE INDEX IF NOT EXISTS intake_time ON intake(collection, added_at);
CREATE INDEX IF NOT EXISTS intake_age ON intake(added_at);
"""

# A feed polled by one process (ShardFilter): a server's collection is guild-<id>, on shard
# (id >> 22) % count; any other collection's feeds go to the process serving shard 0.
_SHARD_WHERE = (
    "AND CASE WHEN collection GLOB 'guild-[0-9]*' AND substr(collection, 7) NOT GLOB "
    "'*[^0-9]*' THEN (CAST(substr(collection, 7) AS INTEGER) >> 22) % ? IN (SELECT value "
    "FROM json_each(?)) ELSE ? END")
_MAX_VARIABLES = 500  # keys looked up per statement


class FeedTables:
    """Every statement about feeds, seen entries, watched channels and the intake log."""

    def __init__(self, sql: Connections) -> None:
        self.sql = sql

    # -- feeds ----------------------------------------------------------------------------
    def add_feed(self, collection: str, url: str, *, title: str | None, channel_id: int | None,
                 added_by: str | None, now: float) -> Feed:
        """Subscribe (or subscribe again: the feed is resumed, due now, its state kept)."""
        with self.sql.write() as db:
            db.execute(
                "INSERT INTO feeds(collection, url, title, channel_id, added_by, added_at, "
                "next_poll_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT(collection, url) DO UPDATE "
                "SET title = coalesce(excluded.title, title), channel_id = excluded.channel_id,"
                " next_poll_at = excluded.next_poll_at, failures = 0, paused = NULL",
                (collection, url, title, channel_id, added_by, now, now))
            row = db.execute(f"SELECT {FEED_COLUMNS} FROM feeds WHERE collection = ? AND "
                             "url = ?", (collection, url)).fetchone()
        return Feed(*row)

    def get_feed(self, feed_id: int) -> Feed:
        row = self.sql.db().execute(f"SELECT {FEED_COLUMNS} FROM feeds WHERE id = ?",
                                    (feed_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"No feed {feed_id}.")
        return Feed(*row)

    def list_feeds(self, collection: str | None = None) -> list[Feed]:
        return [Feed(*r) for r in self.sql.db().execute(*feed_rows.listing(collection, "?"))]

    def due_feeds(self, now: float, limit: int,
                  shards: ShardFilter | None = None) -> list[Feed]:
        """Feeds that are not paused and whose next poll is due, most overdue first; with
        ``shards``, only those that process polls (chosen here, not after the limit)."""
        query = (feed_rows.due(now, limit, "?") if shards is None else feed_rows.due(
            now, limit, "?", _SHARD_WHERE, (shards.count, json.dumps(shards.ids), shards.others)))
        return [Feed(*r) for r in self.sql.db().execute(*query).fetchall()]

    def save_feed(self, feed: Feed) -> None:
        """Write a feed's polling state (everything but its identity)."""
        with self.sql.write() as db:
            db.execute(*feed_rows.saving(feed, "?"))

    def remove_feed(self, collection: str, feed_id: int) -> Feed:
        with self.sql.write() as db:
            row = db.execute(f"SELECT {FEED_COLUMNS} FROM feeds WHERE id = ? AND "
                             "collection = ?", (feed_id, collection)).fetchone()
            if row is None:
                raise NotFoundError(f"No feed {feed_id} in collection {collection!r}.")
            db.execute("DELETE FROM feed_seen WHERE feed_id = ?", (feed_id,))
            db.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))
        return Feed(*row)

    # -- seen entries ---------------------------------------------------------------------
    def seen_entries(self, feed_id: int, keys: Sequence[str]) -> dict[str, SeenEntry]:
        """What this feed knows under any of `keys`."""
        found: dict[str, SeenEntry] = {}
        db = self.sql.db()
        for start in range(0, len(keys), _MAX_VARIABLES):
            part = list(keys[start:start + _MAX_VARIABLES])
            marks = ",".join("?" * len(part))
            for row in db.execute(
                    "SELECT key, article_id, fingerprint, attempts, error FROM feed_seen "
                    f"WHERE feed_id = ? AND key IN ({marks})", (feed_id, *part)):
                found[row[0]] = SeenEntry(*row)
        return found

    def mark_seen(self, feed_id: int, entries: Sequence[SeenEntry], now: float) -> None:
        """Remember entries under their keys (a key seen before now means this entry)."""
        with self.sql.write() as db:
            db.executemany(
                "INSERT INTO feed_seen(feed_id, key, article_id, fingerprint, attempts, error, "
                "seen_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT(feed_id, key) DO UPDATE SET "
                "article_id = excluded.article_id, fingerprint = excluded.fingerprint, "
                "attempts = excluded.attempts, error = excluded.error, seen_at = excluded.seen_at",
                [(feed_id, *astuple(e), now) for e in entries])

    # -- watched channels -----------------------------------------------------------------
    def watch_channel(self, collection: str, channel_id: int, added_by: str | None,
                      now: float) -> None:
        with self.sql.write() as db:
            db.execute("INSERT OR IGNORE INTO watched_channels(collection, channel_id, added_by,"
                       " added_at) VALUES (?,?,?,?)", (collection, channel_id, added_by, now))

    def unwatch_channel(self, collection: str, channel_id: int) -> bool:
        with self.sql.write() as db:
            return db.execute("DELETE FROM watched_channels WHERE collection = ? AND "
                              "channel_id = ?", (collection, channel_id)).rowcount > 0

    def watched_channels(self) -> list[Watched]:
        return [Watched(*r) for r in self.sql.db().execute(
            "SELECT collection, channel_id, added_by, added_at FROM watched_channels "
            "ORDER BY collection, channel_id")]

    # -- the intake log -------------------------------------------------------------------
    def record_intake(self, collection: str, article_id: str, origin: str, now: float) -> None:
        with self.sql.write() as db:
            db.execute("INSERT OR IGNORE INTO intake(collection, article_id, origin, added_at) "
                       "VALUES (?,?,?,?)", (collection, article_id, origin, now))

    def intake_since(self, collection: str, since: float) -> int:
        """How many articles came in by themselves since `since`."""
        return int(self.sql.db().execute(
            "SELECT count(*) FROM intake WHERE collection = ? AND added_at >= ?",
            (collection, since)).fetchone()[0])

    def intake_before(self, before: float, limit: int) -> list[tuple[str, str]]:
        """(collection, article id) of articles that came in by themselves before `before`."""
        return [(str(c), str(a)) for c, a in self.sql.db().execute(
            "SELECT collection, article_id FROM intake WHERE added_at < ? ORDER BY added_at "
            "LIMIT ?", (before, limit))]

    def forget_intake(self, collection: str, article_id: str) -> None:
        with self.sql.write() as db:
            db.execute("DELETE FROM intake WHERE collection = ? AND article_id = ?",
                       (collection, article_id))


class FeedStorage:
    """The feed half of the ``Storage`` protocol for a backend holding ``feed_tables``: each
    method delegates, and low-level failures leave it as ``StorageError`` (``failures``)."""

    feed_tables: FeedTables

    @translated("subscribe to the feed", changes=True)
    def add_feed(self, collection: str, url: str, *, title: str | None,
                 channel_id: int | None, added_by: str | None, now: float) -> Feed:
        return self.feed_tables.add_feed(collection, url, title=title, channel_id=channel_id,
                                         added_by=added_by, now=now)

    @translated("read the feed")
    def get_feed(self, feed_id: int) -> Feed:
        return self.feed_tables.get_feed(feed_id)

    @translated("list the feeds")
    def list_feeds(self, collection: str | None = None) -> list[Feed]:
        return self.feed_tables.list_feeds(collection)

    @translated("list the feeds due")
    def due_feeds(self, now: float, limit: int,
                  shards: ShardFilter | None = None) -> list[Feed]:
        return self.feed_tables.due_feeds(now, limit, shards)

    @translated("save the feed's state", changes=True)
    def save_feed(self, feed: Feed) -> None:
        self.feed_tables.save_feed(feed)

    @translated("remove the feed", changes=True)
    def remove_feed(self, collection: str, feed_id: int) -> Feed:
        return self.feed_tables.remove_feed(collection, feed_id)

    @translated("read the feed's entries")
    def seen_entries(self, feed_id: int, keys: Sequence[str]) -> dict[str, SeenEntry]:
        return self.feed_tables.seen_entries(feed_id, keys)

    @translated("remember the feed's entries", changes=True)
    def mark_seen(self, feed_id: int, entries: Sequence[SeenEntry], now: float) -> None:
        self.feed_tables.mark_seen(feed_id, entries, now)

    @translated("watch the channel", changes=True)
    def watch_channel(self, collection: str, channel_id: int, added_by: str | None,
                      now: float) -> None:
        self.feed_tables.watch_channel(collection, channel_id, added_by, now)

    @translated("stop watching the channel", changes=True)
    def unwatch_channel(self, collection: str, channel_id: int) -> bool:
        return self.feed_tables.unwatch_channel(collection, channel_id)

    @translated("list the watched channels")
    def watched_channels(self) -> list[Watched]:
        return self.feed_tables.watched_channels()

    @translated("record the new article", changes=True)
    def record_intake(self, collection: str, article_id: str, origin: str, now: float) -> None:
        self.feed_tables.record_intake(collection, article_id, origin, now)

    @translated("count the new articles")
    def intake_since(self, collection: str, since: float) -> int:
        return self.feed_tables.intake_since(collection, since)

    @translated("find the old articles")
    def intake_before(self, before: float, limit: int) -> list[tuple[str, str]]:
        return self.feed_tables.intake_before(before, limit)

    @translated("forget the old article", changes=True)
    def forget_intake(self, collection: str, article_id: str) -> None:
        self.feed_tables.forget_intake(collection, article_id)
