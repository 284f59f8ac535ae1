"""SQLite connections and transactions: one connection per thread, in WAL mode with
``synchronous=FULL``, so readers never wait for a writer and a committed change survives a
crash. A transaction that fails, even at COMMIT, is rolled back and leaves the connection usable.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

_BUSY_MS = 30_000  # how long a writer waits for another one before giving up


class Connections:
    """Per-thread connections to one database, and its transactions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def db(self) -> sqlite3.Connection:
        """This thread's connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000, isolation_level=None,
                                   check_same_thread=False)
            # strict decoding: damaged text raises UnicodeDecodeError (told apart by its type)
            # instead of an OperationalError whose message quotes the damaged bytes
            conn.text_factory = bytes.decode
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
                # 64 MiB of page cache (filled as used, not up front) instead of 2 MiB: a
                # question reads scattered pages; at 100k passages this cut the median
                # question from ~25 ms to ~20 ms (see BENCHMARKS.md)
                conn.execute("PRAGMA cache_size=-65536")
            except BaseException:
                conn.close()
                raise
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE ... COMMIT); on any error, including a failed
        COMMIT, it is rolled back and the original error raised."""
        with self._transaction("BEGIN IMMEDIATE") as db:
            yield db

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query in the block sees the same committed state."""
        db = self.db()
        if db.in_transaction:  # already inside one
            yield db
            return
        with self._transaction("BEGIN") as db:
            yield db

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        db = self.db()
        db.execute(begin)
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            self._abandon(db)
            raise

    def try_write(self, sql: str, args: Sequence[object]) -> int | None:
        """Run one statement in its own transaction if no other writer holds the database
        right now; its row count, or None when it is busy (never waits)."""
        db = self.db()
        db.execute("PRAGMA busy_timeout = 0")
        try:
            with self.write() as w:
                return w.execute(sql, args).rowcount
        except sqlite3.OperationalError as exc:
            if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (sqlite3.SQLITE_BUSY,
                                                                 sqlite3.SQLITE_LOCKED):
                return None
            raise
        finally:
            try:
                db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
            except sqlite3.Error:
                self._drop(db)

    def _abandon(self, db: sqlite3.Connection) -> None:
        """Roll back after a failure; a connection that cannot even do that is closed (which
        rolls back) and replaced on next use."""
        try:
            if db.in_transaction:
                db.execute("ROLLBACK")
        except sqlite3.Error:
            self._drop(db)

    def _drop(self, db: sqlite3.Connection) -> None:
        with self._lock:
            if db in self._connections:
                self._connections.remove(db)
        if getattr(self._local, "conn", None) is db:
            self._local.conn = None
        with suppress(sqlite3.Error):
            db.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
