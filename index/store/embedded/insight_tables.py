"""Insights in SQLite: each collection's switch (its retention in days) and the questions it
kept (``index.store.roles.InsightStore``). No column holds a member's id or name.

A down-voted answer is one row under its answer id (``UNIQUE(collection, kind, answer_id)``;
questions answered "not found" carry none, and NULLs are distinct). Rows older than the
retention are deleted whenever the collection's questions are kept or read. Times are Unix
seconds (REAL). Every statement is here; ``EmbeddedStorage`` delegates to it
(``InsightStorageOnTables``).
"""

from __future__ import annotations

import sqlite3

from index.store.embedded.failures import translated
from index.store.embedded.sqlite_tx import Connections
from index.store.values import DAY_S, InsightSwitch, KeptQuestion, Kind

SCHEMA = """
CREATE TABLE IF NOT EXISTS insight_switches(
    collection TEXT PRIMARY KEY, retention_days INTEGER NOT NULL, since REAL NOT NULL);
CREATE TABLE IF NOT EXISTS insight_questions(
    id INTEGER PRIMARY KEY AUTOINCREMENT, collection TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('not_found', 'voted_down')),
    answer_id TEXT, question TEXT NOT NULL, at REAL NOT NULL,
    UNIQUE(collection, kind, answer_id));
CREATE INDEX IF NOT EXISTS insight_questions_recent ON insight_questions(collection, at);
"""


class InsightTables:
    """Every statement about insights, over the store's connections."""

    def __init__(self, connections: Connections) -> None:
        self.connections = connections

    def switch(self, collection: str) -> InsightSwitch | None:
        row = self.connections.db().execute(
            "SELECT retention_days, since FROM insight_switches WHERE collection = ?",
            (collection,)).fetchone()
        return None if row is None else InsightSwitch(collection, int(row[0]), float(row[1]))

    def set_switch(self, collection: str, retention_days: int | None, now: float) -> int:
        """On with a retention (keeping what is younger), or off (None); rows deleted."""
        with self.connections.write() as db:
            if retention_days is None:
                db.execute("DELETE FROM insight_switches WHERE collection = ?", (collection,))
                return int(db.execute("DELETE FROM insight_questions WHERE collection = ?",
                                      (collection,)).rowcount)
            db.execute(
                "INSERT INTO insight_switches(collection, retention_days, since) VALUES (?,?,?) "
                "ON CONFLICT(collection) DO UPDATE SET retention_days = excluded.retention_days",
                (collection, retention_days, now))
            return _expire(db, collection, now)

    def keep(self, collection: str, question: str, kind: Kind, now: float,
             answer_id: str | None) -> bool:
        """Keep the question if insights are on (a down-voted answer once); whether kept."""
        with self.connections.write() as db:
            _expire(db, collection, now)
            return db.execute(
                "INSERT INTO insight_questions(collection, kind, answer_id, question, at) "
                "SELECT collection, ?, ?, ?, ? FROM insight_switches WHERE collection = ? "
                "ON CONFLICT(collection, kind, answer_id) DO NOTHING",
                (kind, answer_id, question, now, collection)).rowcount > 0

    def kept(self, collection: str, since: float, now: float,
             limit: int) -> list[KeptQuestion]:
        """The questions kept since ``since``, newest first, at most ``limit``."""
        with self.connections.write() as db:  # what is past its retention goes first
            _expire(db, collection, now)
            rows = db.execute(
                "SELECT question, kind, at FROM insight_questions WHERE collection = ? "
                "AND at >= ? ORDER BY at DESC, id DESC LIMIT ?",
                (collection, since, limit)).fetchall()
        return [KeptQuestion(str(q), k, float(at)) for q, k, at in rows]

    def forget_vote_down(self, collection: str, answer_id: str) -> bool:
        """Delete a down-voted answer's question once no member votes it down any more."""
        with self.connections.write() as db:
            return db.execute(
                "DELETE FROM insight_questions WHERE collection = ? AND kind = 'voted_down' "
                "AND answer_id = ? AND NOT EXISTS (SELECT 1 FROM feedback WHERE "
                "collection = ? AND answer_id = ? AND vote < 0)",
                (collection, answer_id, collection, answer_id)).rowcount > 0


def _expire(db: sqlite3.Connection, collection: str, now: float) -> int:
    """Delete the collection's questions older than its retention (all when it is off)."""
    row = db.execute("SELECT retention_days FROM insight_switches WHERE collection = ?",
                     (collection,)).fetchone()
    oldest = now - int(row[0]) * DAY_S if row else float("inf")
    return int(db.execute("DELETE FROM insight_questions WHERE collection = ? AND at < ?",
                          (collection, oldest)).rowcount)


class InsightStorageOnTables:
    """The insights part of the ``Storage`` protocol for a backend holding
    ``insight_tables``: each method delegates, and low-level failures leave it as
    ``StorageError`` (index.failures)."""

    insight_tables: InsightTables

    @translated("read the insights setting")
    def insight_switch(self, collection: str) -> InsightSwitch | None:
        """The collection's insights switch; None while they are off."""
        return self.insight_tables.switch(collection)

    @translated("change the insights setting", changes=True)
    def switch_insights(self, collection: str, retention_days: int | None,
                        now: float) -> int:
        """Turn insights on with a retention in days, or off (None: what was kept is
        deleted); how many kept questions were deleted."""
        return self.insight_tables.set_switch(collection, retention_days, now)

    @translated("keep the question for insights", changes=True)
    def keep_question(self, collection: str, question: str, kind: Kind, now: float, *,
                      answer_id: str | None = None) -> bool:
        """Keep a question if the collection's insights are on; whether it was kept."""
        return self.insight_tables.keep(collection, question, kind, now, answer_id)

    @translated("read the insights")
    def kept_questions(self, collection: str, since: float, now: float,
                       limit: int) -> list[KeptQuestion]:
        """The collection's kept questions since ``since``, newest first."""
        return self.insight_tables.kept(collection, since, now, limit)

    @translated("update the insights", changes=True)
    def forget_vote_down(self, collection: str, answer_id: str) -> bool:
        """Delete a down-voted answer's question once no member votes it down any more
        (the last 👎 was changed to 👍); whether one was."""
        return self.insight_tables.forget_vote_down(collection, answer_id)
