"""Turning low-level storage failures (sqlite3 errors, OSError) into ``StorageError``s that say
what went wrong and what a person can do about it."""

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

LOW_LEVEL = (sqlite3.Error, OSError)


def storage_error(exc: BaseException, action: str, where: Path | None = None, *,
                  unchanged: bool = False) -> StorageError:
    """A StorageError for ``exc`` raised while trying to ``action`` (e.g. "add the article")."""
    text = str(exc).strip() or type(exc).__name__
    low = text.lower()
    code = getattr(exc, "errno", None)
    if "locked" in low or "busy" in low:
        hint = "another citebot process is writing to the database; try again in a moment"
    elif "malformed" in low or "not a database" in low or "corrupt" in low:
        hint = ("the database file is damaged; restore citebot.sqlite3 from a backup "
                "(the vector files are rebuilt from it)")
    elif isinstance(exc, PermissionError) or "readonly" in low or "read-only" in low:
        hint = "citebot may not write there; check the permissions of the data directory"
    elif code == errno.ENOSPC or "full" in low:
        hint = "the disk is full; free some space and try again"
    else:
        hint = "check that the disk is healthy and not full, then try again"
    place = f" in {where}" if where is not None else ""
    kept = " Nothing was changed." if unchanged else ""
    return StorageError(f"Could not {action}{place} ({text}).{kept} What to do: {hint}.")


def translated(action: str, *, changes: bool = False) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a storage method so that sqlite3 and OS errors leave it as StorageError.

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
