"""SQLite's failures (and undecodable stored text) as ``StorageError``s that say what went
wrong and what a person can do about it; the disk's own (``OSError``) as ``index.failures``
says them.

The advice is chosen from SQLite's result code, never from the words of its message. Messages
never repeat stored data (a decoding error's text carries the undecodable bytes).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from index import failures as disk
from index.errors import StorageError
from index.failures import (  # the disk's advice, named here too: one place to look
    FILES,
    FULL,
    GENERIC,
    IO,
    MEMORY,
    MISSING,
    PERMISSIONS,
    QUOTA,
    READ_ONLY,
)

__all__ = [
    "BAD_TEXT", "BUSY", "CANT_OPEN", "DAMAGED", "DB_READ_ONLY", "FILES", "FULL", "GENERIC",
    "IO", "LOW_LEVEL", "MEMORY", "MISSING", "MOVED", "PERMISSIONS", "QUOTA", "READ_ONLY",
    "describe", "hint", "sqlite_code", "storage_error", "translated",
]

P = ParamSpec("P")
R = TypeVar("R")

LOW_LEVEL = (sqlite3.Error, OSError, UnicodeDecodeError)  # OSError: as index.failures says

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
    code = sqlite_code(exc)
    if code is not None:
        return _BY_SQLITE_CODE.get(code) or _BY_SQLITE_CODE.get(code & 0xFF, GENERIC)
    return disk.hint(exc)


def describe(exc: BaseException) -> str:
    """What went wrong, without stored data or paths: SQLite's message, an OS error's own
    words, or the exception's type."""
    if isinstance(exc, UnicodeDecodeError):
        return "stored text is not valid UTF-8"
    if sqlite_code(exc) is not None:  # SQLite's own messages name no stored values
        return str(exc).strip() or type(exc).__name__
    return disk.describe(exc)


def storage_error(exc: BaseException, action: str, where: Path | None = None, *,
                  unchanged: bool = False) -> StorageError:
    """A StorageError for ``exc`` raised while trying to ``action`` (e.g. "add the article")."""
    return disk.storage_error(exc, action, where, unchanged=unchanged, advice=hint,
                              what=describe)


def _error(exc: BaseException, action: str, changes: bool) -> StorageError:
    return storage_error(exc, action, unchanged=changes)


def translated(action: str, *, changes: bool = False
               ) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a storage method so that sqlite3, OS and decoding errors leave it as
    StorageError (``changes``: it writes, and a failure has changed nothing: SQLite rolled
    back)."""
    return disk.translated_by(LOW_LEVEL, _error, action, changes=changes)
