"""Turning low-level storage failures (sqlite3 errors, OSError, undecodable stored text) into
``StorageError``s that say what went wrong and what a person can do about it.

The advice is chosen from the kind of failure (the OS error number, SQLite's result code, the
exception's type), never from the words of its message: a message can hold a path, and a path
can hold any word. Messages never repeat stored data (a decoding error's text carries the
undecodable bytes).
"""

from __future__ import annotations

import errno
import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from index.errors import StorageError

P = ParamSpec("P")
R = TypeVar("R")

LOW_LEVEL = (sqlite3.Error, OSError, UnicodeDecodeError)

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
BUSY = "another citebot process is writing to the database; try again in a moment"
DAMAGED = ("the database file is damaged; restore citebot.sqlite3 from a backup "
           "(the vector files are rebuilt from it)")
BAD_TEXT = ("stored text is damaged (it is not valid UTF-8); restore citebot.sqlite3 from a "
            "backup (the vector files are rebuilt from it)")
DB_READ_ONLY = ("citebot may not write the database; check that the data directory is "
                "writable (its permissions, a read-only file system)")
CANT_OPEN = ("the database file cannot be opened; check that the data directory exists and "
             "that citebot may read and write it")
MOVED = ("the database file was moved or deleted while citebot had it open; put it back "
         "(restore it from a backup if it is gone), then restart citebot")
GENERIC = "check that the disk is healthy and not full, then try again"

_BY_ERRNO = {
    errno.ENOSPC: FULL, errno.EDQUOT: QUOTA, errno.EROFS: READ_ONLY, errno.EACCES: PERMISSIONS,
    errno.EPERM: PERMISSIONS, errno.EIO: IO, errno.ENOENT: MISSING, errno.ENOTDIR: MISSING,
    errno.EMFILE: FILES, errno.ENFILE: FILES, errno.ENOMEM: MEMORY,
}
_BY_SQLITE_CODE = {  # extended result codes first, then primary ones (the low byte)
    sqlite3.SQLITE_READONLY_DBMOVED: MOVED,
    sqlite3.SQLITE_FULL: FULL, sqlite3.SQLITE_BUSY: BUSY, sqlite3.SQLITE_LOCKED: BUSY,
    sqlite3.SQLITE_CORRUPT: DAMAGED, sqlite3.SQLITE_NOTADB: DAMAGED,
    sqlite3.SQLITE_READONLY: DB_READ_ONLY, sqlite3.SQLITE_PERM: DB_READ_ONLY,
    sqlite3.SQLITE_CANTOPEN: CANT_OPEN, sqlite3.SQLITE_IOERR: IO, sqlite3.SQLITE_NOMEM: MEMORY,
}


def sqlite_code(exc: BaseException) -> int | None:
    """SQLite's (extended) result code of an error SQLite raised; None for other errors,
    including those the sqlite3 module raises itself."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code if isinstance(code, int) else None


def hint(exc: BaseException) -> str:
    """What a person can do about ``exc``, from its kind."""
    if isinstance(exc, UnicodeDecodeError):
        return BAD_TEXT
    if isinstance(exc, OSError):
        return _BY_ERRNO.get(exc.errno or 0, GENERIC)
    code = sqlite_code(exc)
    if code is not None:
        return _BY_SQLITE_CODE.get(code) or _BY_SQLITE_CODE.get(code & 0xFF, GENERIC)
    return GENERIC


def describe(exc: BaseException) -> str:
    """What went wrong, without stored data or paths: an OS error's own words, SQLite's
    message, or the exception's type."""
    if isinstance(exc, UnicodeDecodeError):
        return "stored text is not valid UTF-8"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    if sqlite_code(exc) is not None:  # SQLite's own messages name no stored values
        return str(exc).strip() or type(exc).__name__
    return type(exc).__name__


def storage_error(exc: BaseException, action: str, where: Path | None = None, *,
                  unchanged: bool = False) -> StorageError:
    """A StorageError for ``exc`` raised while trying to ``action`` (e.g. "add the article")."""
    place = f" in {where}" if where is not None else ""
    kept = " Nothing was changed." if unchanged else ""
    return StorageError(
        f"Could not {action}{place} ({describe(exc)}).{kept} What to do: {hint(exc)}.")


def translated(action: str, *, changes: bool = False) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a storage method so that sqlite3, OS and decoding errors leave it as
    StorageError.

    ``changes`` marks methods that write: a failure there has changed nothing (SQLite rolled
    back), and the message says so.
    """

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except LOW_LEVEL as exc:  # no path in the message: it may reach a chat
                raise storage_error(exc, action, unchanged=changes) from exc

        return run

    return decorate
