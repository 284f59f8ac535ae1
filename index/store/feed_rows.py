"""What both backends say alike about feeds: the columns a ``Feed`` is read from, the polling
state ``save_feed`` writes, and the statements that list feeds, list those due and save one
(written once, with each backend's parameter mark: ``?`` for SQLite, ``%s`` for PostgreSQL).
"""

from __future__ import annotations

from dataclasses import astuple, fields

from index.store.values import Feed

FEED_COLUMNS = ", ".join(f.name for f in fields(Feed))
STATE = ("title", "channel_id", "etag", "last_modified", "body_hash", "next_poll_at",
         "failures", "paused", "last_error", "last_polled_at", "last_new_at", "articles")


def listing(collection: str | None, mark: str) -> tuple[str, tuple[object, ...]]:
    """The statement (and its arguments) listing a collection's feeds, or every feed, by id."""
    if collection is None:
        return f"SELECT {FEED_COLUMNS} FROM feeds ORDER BY id", ()
    return f"SELECT {FEED_COLUMNS} FROM feeds WHERE collection = {mark} ORDER BY id", (
        collection,)


def due(now: float, limit: int, mark: str, shard_where: str = "",
        shard_args: tuple[object, ...] = ()) -> tuple[str, tuple[object, ...]]:
    """The statement listing feeds not paused and due at ``now``, most overdue first, at most
    ``limit``; ``shard_where`` (with its arguments) keeps only one process's feeds."""
    return (f"SELECT {FEED_COLUMNS} FROM feeds WHERE paused IS NULL AND next_poll_at <= {mark} "
            f"{shard_where} ORDER BY next_poll_at LIMIT {mark}", (now, *shard_args, limit))


def saving(feed: Feed, mark: str) -> tuple[str, tuple[object, ...]]:
    """The statement writing a feed's polling state (everything but its identity)."""
    by_name = dict(zip((f.name for f in fields(Feed)), astuple(feed), strict=True))
    columns = ", ".join(f"{c} = {mark}" for c in STATE)
    return (f"UPDATE feeds SET {columns} WHERE collection = {mark} AND id = {mark}",
            (*(by_name[c] for c in STATE), feed.collection, feed.id))
