"""Feed subscriptions, seen entries, watched channels and the intake log in PostgreSQL: the
statements of the embedded store's ``feed_tables`` for this backend (same behaviour, same
shapes; what both say alike is ``index.store.feed_rows``).

They read and write the primary: the poller reads a feed's state to change it at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple

from index.errors import NotFoundError
from index.store import feed_rows
from index.store.feed_rows import FEED_COLUMNS
from index.store.postgres.connections import Connections, translated
from index.store.protocol import Feed, SeenEntry, ShardFilter, Watched

# as the embedded store's (embedded/feed_tables.py): guild-<id> on shard (id >> 22) % count
_SHARD_WHERE = (
    "AND CASE WHEN collection ~ '^guild-[0-9]+$' THEN mod(div(substr(collection, 7)::numeric, "
    "4194304), %s) = ANY(%s::numeric[]) ELSE %s END")


class PostgresFeeds:
    """The feed part of the ``Storage`` protocol: every statement about feeds, seen entries,
    watched channels and the intake log."""

    db: Connections

    # -- feeds ----------------------------------------------------------------------------
    @translated("subscribe to the feed", changes=True)
    def add_feed(self, collection: str, url: str, *, title: str | None, channel_id: int | None,
                 added_by: str | None, now: float) -> Feed:
        """Subscribe (or subscribe again: the feed is resumed, due now, its state kept)."""
        with self.db.write() as db:
            row = db.execute(
                "INSERT INTO feeds(collection, url, title, channel_id, added_by, added_at, "
                "next_poll_at) VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (collection, url) DO "
                "UPDATE SET title = coalesce(excluded.title, feeds.title), channel_id = "
                "excluded.channel_id, next_poll_at = excluded.next_poll_at, failures = 0, "
                f"paused = NULL RETURNING {FEED_COLUMNS}",
                (collection, url, title, channel_id, added_by, now, now)).fetchone()
        assert row is not None
        return Feed(*row)

    @translated("read the feed")
    def get_feed(self, feed_id: int) -> Feed:
        with self.db.primary.connection() as db:
            row = db.execute(f"SELECT {FEED_COLUMNS} FROM feeds WHERE id = %s",
                             (feed_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"No feed {feed_id}.")
        return Feed(*row)

    @translated("list the feeds")
    def list_feeds(self, collection: str | None = None) -> list[Feed]:
        with self.db.primary.connection() as db:
            return [Feed(*r) for r in db.execute(*feed_rows.listing(collection, "%s"))]

    @translated("list the feeds due")
    def due_feeds(self, now: float, limit: int,
                  shards: ShardFilter | None = None) -> list[Feed]:
        """Feeds that are not paused and whose next poll is due, most overdue first; with
        ``shards``, only those that process polls (chosen here, not after the limit)."""
        query = (feed_rows.due(now, limit, "%s") if shards is None else feed_rows.due(
            now, limit, "%s", _SHARD_WHERE, (shards.count, list(shards.ids), shards.others)))
        with self.db.primary.connection() as db:
            return [Feed(*r) for r in db.execute(*query)]

    @translated("save the feed's state", changes=True)
    def save_feed(self, feed: Feed) -> None:
        """Write a feed's polling state (everything but its identity)."""
        with self.db.write() as db:
            db.execute(*feed_rows.saving(feed, "%s"))

    @translated("remove the feed", changes=True)
    def remove_feed(self, collection: str, feed_id: int) -> Feed:
        with self.db.write() as db:
            row = db.execute(f"DELETE FROM feeds WHERE collection = %s AND id = %s "
                             f"RETURNING {FEED_COLUMNS}", (collection, feed_id)).fetchone()
        if row is None:
            raise NotFoundError(f"No feed {feed_id} in collection {collection!r}.")
        return Feed(*row)

    # -- seen entries ---------------------------------------------------------------------
    @translated("read the feed's entries")
    def seen_entries(self, feed_id: int, keys: Sequence[str]) -> dict[str, SeenEntry]:
        """What this feed knows under any of `keys`."""
        with self.db.primary.connection() as db:
            return {r[0]: SeenEntry(*r) for r in db.execute(
                "SELECT s.key, s.article_id, s.fingerprint, s.attempts, s.error FROM feed_seen s "
                "JOIN feeds f ON f.collection = s.collection AND f.id = s.feed_id "
                "WHERE f.id = %s AND s.key = ANY(%s)", (feed_id, list(keys)))}

    @translated("remember the feed's entries", changes=True)
    def mark_seen(self, feed_id: int, entries: Sequence[SeenEntry], now: float) -> None:
        """Remember entries under their keys (a key seen before now means this entry)."""
        with self.db.write() as db:
            row = db.execute("SELECT collection FROM feeds WHERE id = %s", (feed_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"No feed {feed_id}.")
            with db.cursor() as cur:
                cur.executemany(
                    "INSERT INTO feed_seen(collection, feed_id, key, article_id, fingerprint, "
                    "attempts, error, seen_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT "
                    "(collection, feed_id, key) DO UPDATE SET article_id = excluded.article_id,"
                    " fingerprint = excluded.fingerprint, attempts = excluded.attempts, "
                    "error = excluded.error, seen_at = excluded.seen_at",
                    [(row[0], feed_id, *astuple(e), now) for e in entries])

    # -- watched channels -----------------------------------------------------------------
    @translated("watch the channel", changes=True)
    def watch_channel(self, collection: str, channel_id: int, added_by: str | None,
                      now: float) -> None:
        with self.db.write() as db:
            db.execute("INSERT INTO watched_channels(collection, channel_id, added_by, added_at)"
                       " VALUES (%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                       (collection, channel_id, added_by, now))

    @translated("stop watching the channel", changes=True)
    def unwatch_channel(self, collection: str, channel_id: int) -> bool:
        with self.db.write() as db:
            return db.execute("DELETE FROM watched_channels WHERE collection = %s AND "
                              "channel_id = %s", (collection, channel_id)).rowcount > 0

    @translated("list the watched channels")
    def watched_channels(self) -> list[Watched]:
        with self.db.primary.connection() as db:
            return [Watched(*r) for r in db.execute(
                "SELECT collection, channel_id, added_by, added_at FROM watched_channels "
                "ORDER BY collection, channel_id")]

    # -- the intake log -------------------------------------------------------------------
    @translated("record the new article", changes=True)
    def record_intake(self, collection: str, article_id: str, origin: str, now: float) -> None:
        with self.db.write() as db:
            db.execute("INSERT INTO intake(collection, article_id, origin, added_at) VALUES "
                       "(%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                       (collection, article_id, origin, now))

    @translated("count the new articles")
    def intake_since(self, collection: str, since: float) -> int:
        """How many articles came in by themselves since `since`."""
        with self.db.primary.connection() as db:
            row = db.execute("SELECT count(*) FROM intake WHERE collection = %s AND "
                             "added_at >= %s", (collection, since)).fetchone()
        return int(row[0]) if row else 0

    @translated("find the old articles")
    def intake_before(self, before: float, limit: int) -> list[tuple[str, str]]:
        """(collection, article id) of articles that came in by themselves before `before`."""
        with self.db.primary.connection() as db:
            return [(str(c), str(a)) for c, a in db.execute(
                "SELECT collection, article_id FROM intake WHERE added_at < %s ORDER BY "
                "added_at LIMIT %s", (before, limit))]

    @translated("forget the old article", changes=True)
    def forget_intake(self, collection: str, article_id: str) -> None:
        with self.db.write() as db:
            db.execute("DELETE FROM intake WHERE collection = %s AND article_id = %s",
                       (collection, article_id))
