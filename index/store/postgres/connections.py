"""Connections to PostgreSQL: a pool for the primary, one for a streaming replica if there is
one, and which of them a read goes to.

Writes go to the primary. Reads of a collection go to the replica, except just after this
process wrote to that collection: the write's position in the write-ahead log (its LSN) is
remembered, and a read waits (up to ``replica_wait_s``) for the replica to have replayed it;
if the replica is still behind then, or cannot be reached, the read goes to the primary. So a
member who adds an article and asks at once gets an answer that includes it, and a lagging
replica costs time, never a stale answer to the writer (docs/SCALING.md).

Low-level failures leave as StorageError (``translated``), with what to do and no
connection string (it may hold a password).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import psycopg
import psycopg_pool
from pgvector.psycopg import register_vector
from psycopg.conninfo import conninfo_to_dict

from config.settings import POSTGRES_SCHEMES
from index import failures as disk
from index.errors import DataRefusedError, StorageError

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

LOW_LEVEL = (psycopg.Error, psycopg_pool.PoolTimeout)
WRONG_SCHEME = ("CITEBOT_DATABASE_URL must start with postgresql:// (or postgres://): it names "
                "a PostgreSQL database, and citebot speaks to no other server; unset it to use "
                "the embedded store")
UNREACHABLE = ("the PostgreSQL server cannot be reached; check that it is running and that "
               "CITEBOT_DATABASE_URL points at it, then try again")
READ_ONLY = ("the server refused a write because it is a read-only replica; point "
             "CITEBOT_DATABASE_URL at the primary (replicas go in CITEBOT_DATABASE_READ_URL)")
FULL = "the database server's disk is full; free some space on it and try again"
TOO_LONG = ("a value is longer than PostgreSQL accepts; shorten it (a collection name, an id, "
            "a title or a field), then try again")
BAD_DATA = "PostgreSQL refused a value as invalid; correct it, then try again"
GENERIC = "check the PostgreSQL server's log, then try again"
_POLL_S = 0.01
REPLICA_RECHECK_S = 5.0  # a replica found down is tried again after this long
CONNECT_TIMEOUT_S = 5
PROBE_AFTER_S = 1.0  # a pool that has no connection for this long checks the server is up
# SQLSTATE classes: connection exception, operator intervention (shutdown), system error
_OUTAGE_CLASSES = ("08", "57", "58")


def hint(exc: BaseException) -> str:
    """What a person can do about a psycopg failure, from its kind (never its words)."""
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return READ_ONLY
    if isinstance(exc, psycopg.errors.DiskFull):
        return FULL
    if sqlstate.startswith("54"):  # program_limit_exceeded: an index row, a lexeme, ...
        return TOO_LONG
    if isinstance(exc, psycopg.DataError):  # class 22, and text psycopg cannot send (NUL)
        return BAD_DATA
    if isinstance(exc, psycopg_pool.PoolTimeout) or (
            isinstance(exc, psycopg.OperationalError)
            and (not sqlstate or sqlstate[:2] in _OUTAGE_CLASSES)):
        return UNREACHABLE
    return GENERIC


def what(exc: BaseException) -> str:
    """The failure's name for a message: its SQLSTATE and what it concerns (a table, a
    column, a constraint, the limit passed: never a value)."""
    sqlstate = getattr(exc, "sqlstate", None)
    if not sqlstate:
        return type(exc).__name__
    diag = getattr(exc, "diag", None)
    names = [n for n in (getattr(diag, "table_name", None), getattr(diag, "column_name", None),
                         getattr(diag, "constraint_name", None)) if n]
    where = f" in {'.'.join(names)}" if names else ""
    # a limit's own words name what was too long ("index row requires 9016 bytes, maximum
    # size is 8191", "word is too long (3000 bytes, max 2046 bytes)") and never a value
    said = getattr(diag, "message_primary", None) if sqlstate.startswith("54") else None
    return f"PostgreSQL error {sqlstate}{where}" + (f": {said}" if said else "")


def translated(action: str, *, changes: bool = False) -> Callable[[Callable[P, R]],
                                                                   Callable[P, R]]:
    """Decorate a storage method so that psycopg failures leave it as StorageError; a writing
    method's failure rolled its transaction back, and the message says so."""
    return disk.translated_by(LOW_LEVEL, _error, action, changes=changes)


def _error(exc: BaseException, action: str, changes: bool) -> StorageError:
    kept = " Nothing was changed." if changes else ""
    advice = hint(exc)
    kind = DataRefusedError if advice in (TOO_LONG, BAD_DATA) else StorageError
    return kind(f"Could not {action} ({what(exc)}).{kept} What to do: {advice}.")


def _configure(conn: psycopg.Connection) -> None:
    register_vector(conn)


class Connections:
    """The primary's pool, the replica's (if any), and where each read goes."""

    def __init__(self, url: str, read_url: str | None, *, pool_size: int = 8,
                 replica_wait_s: float = 2.0, timeout_s: float = 30.0) -> None:
        self.replica_wait_s = replica_wait_s
        self.primary = _pool(url, pool_size, timeout_s, "primary")
        self.replica = _pool(read_url, pool_size, timeout_s, "replica") if read_url else None
        self._guard = threading.Lock()
        self._written: dict[str, str] = {}  # collection -> LSN of this process's last write
        self.replica_recheck_s = REPLICA_RECHECK_S
        self._replica_down_until = 0.0  # monotonic; reads skip the replica until then

    def close(self) -> None:
        self.primary.close()
        if self.replica is not None:
            self.replica.close()

    @contextmanager
    def write(self, collection: str | None = None) -> Iterator[psycopg.Connection]:
        """A primary connection in a transaction; after it commits, the collection's reads
        wait for a replica to have replayed it."""
        with self.primary.connection() as conn:
            with conn.transaction():
                yield conn
            if self.replica is not None and collection is not None:
                row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
                with self._guard:
                    self._written[collection] = str(row[0]) if row else "0/0"

    @contextmanager
    def read(self, collection: str | None = None) -> Iterator[psycopg.Connection]:
        """A connection to read a collection from: the replica when it holds this process's
        writes to it (waiting a bounded time for them), else the primary; the primary too
        while the replica is down (tried again every ``replica_recheck_s``)."""
        pool = self._reader(collection) if self.replica is not None else self.primary
        if pool is self.replica:
            try:
                conn = pool.getconn()
            except LOW_LEVEL as exc:
                self._replica_failed(exc)
                pool = self.primary
            else:
                self._replica_back()
                try:
                    yield conn
                finally:
                    pool.putconn(conn)
                return
        with pool.connection() as conn:
            yield conn

    def _reader(self, collection: str | None) -> psycopg_pool.ConnectionPool:
        assert self.replica is not None
        with self._guard:
            lsn = self._written.get(collection) if collection is not None else None
            if time.monotonic() < self._replica_down_until:
                return self.primary
        try:
            if lsn is None or self._replayed(lsn):
                return self.replica
        except LOW_LEVEL as exc:
            self._replica_failed(exc)
        return self.primary

    def _replica_back(self) -> None:
        with self._guard:
            was_down, self._replica_down_until = self._replica_down_until > 0, 0.0
        if was_down:
            log.warning("the read replica is back; reading from it again")

    def _replica_failed(self, exc: BaseException) -> None:
        """Send reads to the primary for ``replica_recheck_s``, then try the replica again."""
        with self._guard:
            said = self._replica_down_until > 0
            self._replica_down_until = time.monotonic() + self.replica_recheck_s
        if not said:  # once per outage, not once per read
            log.warning("the read replica cannot be reached (%s); reading from the primary "
                        "until it is back", type(exc).__name__)

    def _replayed(self, lsn: str) -> bool:
        """Whether the replica has replayed ``lsn``, waiting up to ``replica_wait_s``."""
        assert self.replica is not None
        deadline = time.monotonic() + self.replica_wait_s
        with self.replica.connection(timeout=max(self.replica_wait_s, 0.5)) as conn:
            for _ in range(int(self.replica_wait_s / _POLL_S) + 1):  # bounded
                row = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                   (lsn,)).fetchone()
                if row and row[0]:
                    self._forget(lsn)
                    return True
                if time.monotonic() >= deadline:
                    break
                time.sleep(_POLL_S)
        log.info("the read replica is behind this process's last write; reading from the "
                 "primary")
        return False

    def _forget(self, lsn: str) -> None:
        with self._guard:
            for collection, written in list(self._written.items()):
                if written == lsn:
                    del self._written[collection]


def check_url(url: str) -> None:
    """Refuse a URL that does not name a PostgreSQL database (a mysql:// one, a path)."""
    if not url.strip().lower().startswith(POSTGRES_SCHEMES):
        raise StorageError(f"{WRONG_SCHEME}.")


def connect(url: str, *, name: str = "primary", **options: object) -> psycopg.Connection:
    """A connection to ``url``, or a StorageError naming why not: a URL of another scheme, a
    database that does not exist (and how to create it), or a server that cannot be reached."""
    check_url(url)
    try:
        return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, **options)  # type: ignore[arg-type,no-any-return]
    except psycopg.Error as exc:
        missing = missing_database(url)
        if missing is not None:
            raise StorageError(
                f"The {name} database {missing!r} does not exist on the PostgreSQL server. "
                f"What to do: create it (`createdb {missing}`, or CREATE DATABASE \"{missing}\" "
                "as a user allowed to), or point CITEBOT_DATABASE_URL at an existing one.") from exc
        raise StorageError(f"Could not connect to the {name} database ({what(exc)}). "
                           f"What to do: {hint(exc)}.") from exc


def missing_database(url: str) -> str | None:
    """The database ``url`` names, if the server is up and holds no database of that name
    (asked through the server's maintenance database); None when that cannot be told."""
    try:
        params = conninfo_to_dict(url)
        wanted = str(params.get("dbname") or params.get("user") or "")
        if not wanted:
            return None
        for maintenance in ("postgres", "template1"):
            if maintenance == wanted:
                continue
            params.update(dbname=maintenance, connect_timeout=CONNECT_TIMEOUT_S)
            with psycopg.connect(**params) as conn:  # type: ignore[arg-type]
                row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                   (wanted,)).fetchone()
                return None if row else wanted
    except psycopg.Error:
        return None
    return None


class _Pool(psycopg_pool.ConnectionPool):
    """A pool that does not make a caller wait its whole timeout for a server that is down:
    after ``PROBE_AFTER_S`` without a connection (at once, once the server was found down) it
    tries one connection of its own, and fails with that connection's error."""

    down = False

    def getconn(self, timeout: float | None = None) -> psycopg.Connection:
        timeout = self.timeout if timeout is None else timeout
        first = 0.0 if self.down else min(timeout, PROBE_AFTER_S)
        if first > 0:
            try:
                return super().getconn(timeout=first)
            except psycopg_pool.PoolTimeout:
                if first >= timeout:
                    raise
        try:
            psycopg.connect(str(self.conninfo), connect_timeout=CONNECT_TIMEOUT_S).close()
        except psycopg.OperationalError as exc:
            if hint(exc) == UNREACHABLE:  # down; not merely busy (too many connections)
                self.down = True
                raise
        else:
            self.down = False
        return super().getconn(timeout=max(timeout - first, 0.1))


def _pool(url: str, size: int, timeout_s: float, name: str) -> psycopg_pool.ConnectionPool:
    """A pool of connections to ``url``, once one connection has been made (a server that
    cannot be reached, or a database that does not exist, is an error at once, not after the
    pool's retries)."""
    connect(url, name=name).close()
    try:
        pool = _Pool(
            url, min_size=1, max_size=max(size, 1), timeout=timeout_s, name=name, open=False,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            configure=_configure,
            # a connection the server dropped (a restart, a fail-over) is replaced when it is
            # taken from the pool, instead of failing the question or add that took it
            check=psycopg_pool.ConnectionPool.check_connection)
        pool.open(wait=True, timeout=timeout_s)
    except LOW_LEVEL as exc:
        raise StorageError(f"Could not connect to the {name} database ({what(exc)}). "
                           f"What to do: {hint(exc)}.") from exc
    return pool
