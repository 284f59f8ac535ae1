"""Insights in PostgreSQL: the statements of ``index.store.embedded.insight_tables`` for
this backend (same behaviour), keyed by collection first. No column holds a member's id or name.

The switch is read on the primary, never a replica: when an admin turns insights off, every
process sharing the database stops keeping questions at once (nothing caches it). Keeping a
question inserts only while the switch row exists, in the same statement, so a question
kept just as insights are turned off is deleted with the rest or never written.
"""

from __future__ import annotations

import psycopg

from index.store.postgres.connections import Connections, translated
from index.store.values import DAY_S, InsightSwitch, KeptQuestion, Kind

SCHEMA = """
CREATE TABLE insight_switches(
    collection text PRIMARY KEY, retention_days integer NOT NULL,
    since double precision NOT NULL);
CREATE TABLE insight_questions(
    collection text NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY,
    kind text NOT NULL CHECK (kind IN ('not_found', 'voted_down')), answer_id text,
    question text NOT NULL, at double precision NOT NULL,
    PRIMARY KEY(collection, id), UNIQUE(collection, kind, answer_id));
CREATE INDEX insight_questions_recent ON insight_questions(collection, at);
"""


class PostgresInsights:
    """The insights part of the ``Storage`` protocol."""

    db: Connections

    @translated("read the insights setting")
    def insight_switch(self, collection: str) -> InsightSwitch | None:
        """The collection's insights switch; None while they are off."""
        with self.db.primary.connection() as db:
            row = db.execute("SELECT retention_days, since FROM insight_switches "
                             "WHERE collection = %s", (collection,)).fetchone()
        return None if row is None else InsightSwitch(collection, int(row[0]), float(row[1]))

    @translated("change the insights setting", changes=True)
    def switch_insights(self, collection: str, retention_days: int | None,
                        now: float) -> int:
        """Turn insights on with a retention in days, or off (None: what was kept is
        deleted); how many kept questions were deleted."""
        with self.db.write(collection) as db:
            if retention_days is None:
                db.execute("DELETE FROM insight_switches WHERE collection = %s", (collection,))
                return int(db.execute("DELETE FROM insight_questions WHERE collection = %s",
                                      (collection,)).rowcount)
            db.execute(
                "INSERT INTO insight_switches(collection, retention_days, since) VALUES "
                "(%s, %s, %s) ON CONFLICT (collection) DO UPDATE SET retention_days = "
                "excluded.retention_days", (collection, retention_days, now))
            return _expire(db, collection, now)

    @translated("keep the question for insights", changes=True)
    def keep_question(self, collection: str, question: str, kind: Kind, now: float, *,
                      answer_id: str | None = None) -> bool:
        """Keep a question if the collection's insights are on; whether it was kept."""
        with self.db.write(collection) as db:
            _expire(db, collection, now)
            return db.execute(
                "INSERT INTO insight_questions(collection, kind, answer_id, question, at) "
                "SELECT collection, %s, %s, %s, %s FROM insight_switches WHERE collection = %s "
                "FOR SHARE ON CONFLICT (collection, kind, answer_id) DO NOTHING",
                (kind, answer_id, question, now, collection)).rowcount > 0

    @translated("read the insights", changes=True)
    def kept_questions(self, collection: str, since: float, now: float,
                       limit: int) -> list[KeptQuestion]:
        """The collection's kept questions since ``since``, newest first."""
        with self.db.write(collection) as db:  # what is past its retention goes first
            _expire(db, collection, now)
            rows = db.execute(
                "SELECT question, kind, at FROM insight_questions WHERE collection = %s "
                "AND at >= %s ORDER BY at DESC, id DESC LIMIT %s",
                (collection, since, limit)).fetchall()
        return [KeptQuestion(str(q), k, float(at)) for q, k, at in rows]

    @translated("update the insights", changes=True)
    def forget_vote_down(self, collection: str, answer_id: str) -> bool:
        """Delete a down-voted answer's question once no member votes it down any more
        (the last 👎 was changed to 👍); whether one was."""
        with self.db.write(collection) as db:
            return db.execute(
                "DELETE FROM insight_questions WHERE collection = %s AND kind = 'voted_down' "
                "AND answer_id = %s AND NOT EXISTS (SELECT 1 FROM feedback WHERE "
                "collection = %s AND answer_id = %s AND vote < 0)",
                (collection, answer_id, collection, answer_id)).rowcount > 0


def _expire(db: psycopg.Connection, collection: str, now: float) -> int:
    """Delete the collection's questions older than its retention (all when it is off)."""
    return int(db.execute(
        "DELETE FROM insight_questions q WHERE q.collection = %s AND q.at < coalesce(("
        "SELECT %s - s.retention_days * %s FROM insight_switches s WHERE s.collection = %s), "
        "'Infinity'::float8)", (collection, now, DAY_S, collection)).rowcount)
