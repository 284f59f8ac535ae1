"""The PostgreSQL + pgvector storage backend (``CITEBOT_DATABASE_URL``), for deployments that
outgrow the embedded one: several bot shards and importers on one database, read replicas,
millions of passages (docs/SCALING.md). The only package that imports psycopg.

``PostgresStorage`` implements ``index.store.protocol.Storage``; ``migrations`` holds the
schema. Both are imported on first use, so that a missing optional dependency is a clear
error (``open_postgres``), not an import failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from index.errors import MissingDependencyError

if TYPE_CHECKING:
    from index.store.postgres.migrations import Migration, Status
    from index.store.postgres.storage import PostgresStorage

__all__ = ["PostgresStorage", "migrate", "open_postgres", "schema_status"]

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


def _run(url: str, action: str, step: Any) -> Any:
    try:
        from index.store.postgres import migrations
        from index.store.postgres.connections import connect, translated
    except ImportError as exc:
        raise MissingDependencyError(MISSING) from exc

    @translated(action, changes=True)
    def run() -> Any:
        with connect(url, autocommit=True) as conn:
            return step(migrations, conn)

    return run()


def __getattr__(name: str) -> Any:
    if name == "PostgresStorage":
        from index.store.postgres.storage import PostgresStorage

        return PostgresStorage
    raise AttributeError(name)
