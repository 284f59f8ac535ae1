"""Turning low-level failures of files and disks (``OSError``) into ``StorageError``s that say
what went wrong and what a person can do about it; each storage backend adds its own driver's
errors (``index.store.embedded.failures``: SQLite's; ``index.store.postgres.connections``:
PostgreSQL's).

The advice is chosen from the kind of failure (the OS error number, the exception's type),
never from the words of its message: a message can hold a path, and a path can hold any word.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from index.errors import StorageError

P = ParamSpec("P")
R = TypeVar("R")

LOW_LEVEL = (OSError,)

FULL = "the disk is full; free some space and try again"
QUOTA = "the disk quota is used up; free some space (or raise the quota) and try again"
READ_ONLY = ("the file system is read-only; make it writable again, or use a data directory "
             "on a writable disk")
PERMISSIONS = "citebot may not write there; check the permissions of the data directory"
IO = ("the disk reported an I/O error; check that it is healthy (its system log, SMART), "
      "then try again")
MISSING = ("a file or folder citebot needs is missing; check that the data directory (and "
           "the disk it is on) is there")
FILES = "too many files are open; close other programs or raise the open-file limit"
MEMORY = "the computer ran out of memory; close other programs and try again"
GENERIC = "check that the disk is healthy and not full, then try again"

_BY_ERRNO = {
    errno.ENOSPC: FULL, errno.EDQUOT: QUOTA, errno.EROFS: READ_ONLY, errno.EACCES: PERMISSIONS,
    errno.EPERM: PERMISSIONS, errno.EIO: IO, errno.ENOENT: MISSING, errno.ENOTDIR: MISSING,
    errno.EMFILE: FILES, errno.ENFILE: FILES, errno.ENOMEM: MEMORY,
}

Explain = Callable[[BaseException], str]


def hint(exc: BaseException) -> str:
    """What a person can do about ``exc``, from its kind."""
    if isinstance(exc, OSError):
        return _BY_ERRNO.get(exc.errno or 0, GENERIC)
    return GENERIC


def describe(exc: BaseException) -> str:
    """What went wrong, without paths: an OS error's own words, or the exception's type."""
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__


def storage_error(exc: BaseException, action: str, where: Path | None = None, *,
                  unchanged: bool = False, advice: Explain = hint,
                  what: Explain = describe) -> StorageError:
    """A StorageError for ``exc`` raised while trying to ``action`` (e.g. "add the article"):
    ``what`` went wrong and the ``advice`` for it (a backend passes its own)."""
    place = f" in {where}" if where is not None else ""
    kept = " Nothing was changed." if unchanged else ""
    return StorageError(
        f"Could not {action}{place} ({what(exc)}).{kept} What to do: {advice(exc)}.")


def translated_by(low_level: tuple[type[BaseException], ...],
                  error: Callable[[BaseException, str, bool], StorageError], action: str, *,
                  changes: bool = False) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a storage method so that ``low_level`` errors leave it as
    ``error(exc, action, changes)``: a backend's ``translated`` names its errors and calls this.

    ``changes`` marks methods that write: a failure there has changed nothing (the backend
    rolled back), and the message says so.
    """

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except low_level as exc:  # no path in the message: it may reach a chat
                raise error(exc, action, changes) from exc

        return run

    return decorate
