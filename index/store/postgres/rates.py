"""Rate limits that hold across processes: the bot's ask cooldown and add quota, counted in
the database (``rate_uses``) instead of each process's memory, on the database's clock.

Each (kind, key) takes its turn under a transaction-scoped advisory lock, so two processes
using the last of a quota at once cannot both have it.
"""

from __future__ import annotations

from index.store.postgres.connections import Connections, translated

_TURN = "SELECT pg_advisory_xact_lock(hashtextextended('citebot:rate:' || %s || ':' || %s, 0))"
_TIDY_EVERY = 1000  # uses between removals of all expired uses of a kind


class PostgresRates:
    """Sliding windows of uses per kind and key, shared by every process on the database."""

    def __init__(self, db: Connections) -> None:
        self.db = db
        self._uses = 0

    @translated("check the rate limit", changes=True)
    def take(self, kind: str, key: int, n: int, count: int, window_s: float) -> float | None:
        """Record ``n`` uses of ``key`` if at most ``count`` fall in the last ``window_s``
        seconds with them; else record none and return the seconds until there is room."""
        self._uses += 1
        with self.db.write() as db:
            db.execute(_TURN, (kind, str(key)))
            row = db.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
            now = float(row[0]) if row else 0.0
            db.execute("DELETE FROM rate_uses WHERE kind = %s AND key = %s AND at <= %s",
                       (kind, key, now - window_s))
            if self._uses % _TIDY_EVERY == 0:  # members who never came back
                db.execute("DELETE FROM rate_uses WHERE kind = %s AND at <= %s",
                           (kind, now - window_s))
            uses = [float(at) for (at,) in db.execute(
                "SELECT at FROM rate_uses WHERE kind = %s AND key = %s ORDER BY at",
                (kind, key)).fetchall()]
            if len(uses) + n > count:
                oldest = uses[len(uses) + n - count - 1] if n <= count else now
                return window_s - (now - oldest)
            db.execute("INSERT INTO rate_uses(kind, key, at) SELECT %s, %s, %s FROM "
                       "generate_series(1, %s)", (kind, key, now, n))
        return None
