"""Locks around a collection: one writer at a time, across threads and processes.

``CollectionLocks`` pairs a thread lock with an ``flock`` on a file in the collection's
directory, so two threads of one process and two processes sharing a data directory take turns
the same way. ``attempt`` takes a lock only if it is free right now (for tidying that may be
skipped). ``ReadWriteLock`` guards one in-memory vector index: many searches, or one change.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


class ReadWriteLock:
    """Many readers (searches, snapshots for saving) or one writer (adding, removing vectors).

    Readers only wait while a change is being applied in memory, never for a writer that is
    merely queued.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and self._readers == 0)
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


class CollectionLocks:
    """Named per-collection locks ("writer", "rebuild") held across threads and processes."""

    def __init__(self, directory_of: Callable[[str], Path]) -> None:
        self._directory_of = directory_of
        self._guard = threading.Lock()
        self._threads: dict[tuple[str, str], threading.Lock] = {}

    def _thread_lock(self, collection: str, name: str) -> threading.Lock:
        with self._guard:
            return self._threads.setdefault((collection, name), threading.Lock())

    def _open(self, collection: str, name: str) -> IO[str]:
        path = self._directory_of(collection) / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "a")

    @contextmanager
    def hold(self, collection: str, name: str) -> Iterator[None]:
        """Wait for the lock, then hold it for the block."""
        with self._thread_lock(collection, name), self._open(collection, name) as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # closing the file releases it
            yield

    @contextmanager
    def attempt(self, collection: str, name: str) -> Iterator[bool]:
        """Hold the lock for the block if it is free now; yields whether it is held."""
        lock = self._thread_lock(collection, name)
        if not lock.acquire(blocking=False):
            yield False
            return
        try:
            fh = self._try_flock(collection, name)
            try:
                yield fh is not None
            finally:
                if fh is not None:
                    fh.close()
        finally:
            lock.release()

    def _try_flock(self, collection: str, name: str) -> IO[str] | None:
        try:
            fh = self._open(collection, name)
        except OSError:
            return None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return None
        return fh


IN_USE = "citebot.in-use.lock"


class InUse:
    """A shared ``flock`` on a file in the data directory, held while a process has the store
    open: ``restore --replace`` needs it exclusively, and so sees that citebot is running
    there. Best effort: on read-only media there is no lock (and nothing can be replaced)."""

    def __init__(self, data_dir: Path) -> None:
        self._fh: IO[str] | None = None
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            fh = open(data_dir / IN_USE, "a")  # noqa: SIM115  (held until release)
        except OSError:
            return
        fcntl.flock(fh, fcntl.LOCK_SH)  # waits only while a restore swaps the directory
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # releases the lock
            self._fh = None


@contextmanager
def sole_use(data_dir: Path) -> Iterator[bool]:
    """Hold the data directory's lock exclusively for the block if no process has the store
    open now; yields whether it is held (True for a directory without a store)."""
    if not data_dir.is_dir():
        yield True
        return
    with open(data_dir / IN_USE, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
