"""The PostgreSQL + pgvector storage backend (``CITEBOT_DATABASE_URL``), for deployments that
outgrow the embedded one: several bot shards and importers on one database, read replicas,
millions of passages (docs/SCALING.md). The only package that imports psycopg.

``PostgresStorage`` implements ``index.store.protocol.Storage``; ``migrations`` holds the
schema. Both are imported on first use, so that a missing optional dependency is a clear
error (``open_postgres``), not an import failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from index.errors import MissingDependencyError
from index.store.claims import ShardClaim, taken

if TYPE_CHECKING:
    from index.store.postgres.migrations import Migration, Status
    from index.store.postgres.storage import PostgresStorage

__all__ = ["PostgresStorage", "claim_shards", "migrate", "open_postgres", "schema_status"]

MISSING = ("The PostgreSQL backend needs psycopg, psycopg-pool and pgvector: install them with "
           "`pip install 'citebot[postgres]'`, or unset CITEBOT_DATABASE_URL to use the "
           "embedded store.")


def open_postgres(url: str, **options: Any) -> PostgresStorage:
    """A PostgresStorage (see its constructor), or MissingDependencyError."""
    try:
        from index.store.postgres.storage import PostgresStorage
    except ImportError as exc:
        raise MissingDependencyError(MISSING) from exc
    return PostgresStorage(url, **options)


def schema_status(url: str) -> Status:
    """Where the database's schema stands (its version, this citebot's, what is pending)."""
    return _run(url, "read the schema's version", lambda m, c: m.status(c))


def migrate(url: str) -> list[Migration]:
    """Apply the migrations the database lacks; those applied."""
    return _run(url, "migrate the database", lambda m, c: m.migrate(c))


_SHARD_LOCK = "SELECT pg_try_advisory_lock(hashtextextended('citebot:shard:' || %s::text, 0))"


def claim_shards(url: str, shards: Sequence[int]) -> ShardClaim:
    """Claim bot shards by session advisory locks on a connection of their own, held until
    ``release`` or the process ends (``index.store.claims``); ShardTakenError if another
    process holds one."""

    def hold(migrations: Any, conn: Any) -> ShardClaim:
        for shard in shards:
            row = conn.execute(_SHARD_LOCK, (shard,)).fetchone()
            if not (row and row[0]):
                raise taken(shard, "PostgreSQL database")
        return ShardClaim(shards, conn.close)

    return _run(url, "claim the bot's shards", hold, keep=True)  # type: ignore[no-any-return]


def _run(url: str, action: str, step: Any, *, keep: bool = False) -> Any:
    try:
        from index.store.postgres import migrations
        from index.store.postgres.connections import connect, translated
    except ImportError as exc:
        raise MissingDependencyError(MISSING) from exc

    @translated(action, changes=True)
    def run() -> Any:
        conn = connect(url, autocommit=True)
        try:
            done = step(migrations, conn)
        except BaseException:
            conn.close()
            raise
        if not keep:
            conn.close()
        return done

    return run()


def __getattr__(name: str) -> Any:
    if name == "PostgresStorage":
        from index.store.postgres.storage import PostgresStorage

        return PostgresStorage
    raise AttributeError(name)
