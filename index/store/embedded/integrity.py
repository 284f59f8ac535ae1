"""Noticing that a store lost data, instead of carrying on as if it were new or smaller.

A data directory knows what it held in three places: SQLite (the source of truth), a small
identity file beside it (``citebot.store-id``, the store's id, also kept in SQLite's meta
table), and each collection's manifest (the generation and vector count last saved). Opening
the store refuses when the database is missing, empty or another store's although the
directory held one, and when SQLite's ``quick_check`` finds damage; opening a collection
(``index.store.embedded.reconcile``) refuses when SQLite holds less than its manifest says it saved.
A refusal changes nothing: the vector files and manifests stay as they were, as evidence and
for recovery.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import sqlite3
from contextlib import suppress
from pathlib import Path

from index.errors import DamagedStoreError
from index.store.embedded.failures import LOW_LEVEL, storage_error
from index.store.embedded.sqlite_store import SQLiteStore

log = logging.getLogger(__name__)

DATABASE = "citebot.sqlite3"
MARKER = "citebot.store-id"
QUICK_CHECK_AT_OPEN = 64 << 20  # bytes; a larger database is checked when a mismatch is seen
RESTORE = "restore citebot.sqlite3 from a backup (the vector files are rebuilt from it)"
START_OVER = "to start over with an empty store instead, move the data directory aside first"


def open_database(data_dir: Path, *, lexical_max_df: int = 0,
                  quick_check_bytes: int | None = None) -> SQLiteStore:
    """The store's SQLite database, after checking that it is the one this data directory
    held, whole (DamagedStoreError otherwise, with nothing changed). ``quick_check`` runs when
    the database is at most ``quick_check_bytes`` (default ``QUICK_CHECK_AT_OPEN``)."""
    path = data_dir / DATABASE
    _refuse_if_lost(data_dir, path)  # before connecting: SQLite would start a new, empty one
    marker = _read_marker(data_dir)  # before reading the database: see _identify
    sql = SQLiteStore(path, lexical_max_df=lexical_max_df, schema=False)
    try:
        sql.db()  # connects (a new database gets its first page here)
        limit = QUICK_CHECK_AT_OPEN if quick_check_bytes is None else quick_check_bytes
        if path.stat().st_size <= limit:
            refuse_if_damaged(sql, path)
        stored = _identify(sql, data_dir, marker)
        sql.create_schema()
        if stored is None:
            _adopt(sql, data_dir, marker)
        elif marker != stored:
            _write_marker(data_dir, stored)
    except BaseException as exc:
        sql.close()
        if isinstance(exc, LOW_LEVEL):
            raise storage_error(exc, "open the database", path) from exc
        raise
    return sql


def evidence(data_dir: Path) -> list[str]:
    """What in ``data_dir`` shows that a store existed there (empty for a new one)."""
    found = []
    if (data_dir / MARKER).exists():
        found.append(f"its identity file {MARKER}")
    held = sorted(d.name for d in (data_dir / "collections").glob("*")
                  if any(d.glob("manifest.json")) or any(d.glob("vectors.*")))
    if held:
        found.append(f"the vector files of {len(held)} collection(s) ({', '.join(held[:5])})")
    # Not the write-ahead log: a store killed while it was first created has one (and no
    # identity file yet), and SQLite recovers what it committed.
    return found


def _refuse_if_lost(data_dir: Path, path: Path) -> None:
    try:
        size = path.stat().st_size if path.exists() else None
        found = evidence(data_dir) if not size else []
    except OSError as exc:
        raise storage_error(exc, "open the database", path) from exc
    if found:
        state = "missing" if size is None else "empty (0 bytes)"
        raise DamagedStoreError(
            f"The database {DATABASE} in {data_dir} is {state}, but this data directory held "
            f"a citebot store: {' and '.join(found)} are still there. citebot did not start a "
            f"new, empty store, and changed nothing. What to do: {RESTORE}; {START_OVER}.")


def quick_check(sql: SQLiteStore) -> list[str]:
    """What SQLite's ``quick_check`` finds wrong with the database ([] when nothing)."""
    try:
        found = sql.quick_check()
    except sqlite3.DatabaseError as exc:
        code = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
        return [f"quick_check could not run ({code})"]
    if found:
        log.warning("SQLite's quick_check: %s", "; ".join(found))
    return found


def refuse_if_damaged(sql: SQLiteStore, path: Path) -> None:
    """DamagedStoreError when ``quick_check`` finds damage."""
    found = quick_check(sql)
    if found:
        raise DamagedStoreError(
            f"The database {DATABASE} in {path.parent} is damaged: SQLite's quick_check finds "
            f"{len(found)} problem(s). citebot changed nothing. What to do: {RESTORE}; "
            f"{START_OVER}.")


def _identify(sql: SQLiteStore, data_dir: Path, marker: str | None) -> str | None:
    """The database's store id (None when it has none yet), refusing another store's
    database and an empty one where a store was.

    The marker is read before the database: a new store commits its id to SQLite before it
    writes the marker, so a marker seen first is always matched by the database."""
    stored = sql.store_id()
    if stored is not None:
        if marker is not None and stored != marker:
            raise DamagedStoreError(
                f"The database {DATABASE} in {data_dir} belongs to another citebot store "
                f"(store id {stored[:12]}; this data directory's is {marker[:12]}). "
                "citebot changed nothing. What to do: put this data directory's own "
                f"{DATABASE} back ({RESTORE}); to use the other database, give it a data "
                "directory of its own.")
        return stored
    if sql.holds_nothing() and evidence(data_dir):
        raise DamagedStoreError(
            f"The database {DATABASE} in {data_dir} holds nothing, but this data directory "
            f"held a citebot store: {' and '.join(evidence(data_dir))} are still there. "
            f"citebot changed nothing. What to do: {RESTORE}; {START_OVER}.")
    return None


def _adopt(sql: SQLiteStore, data_dir: Path, marker: str | None) -> None:
    """Give a new (or older, id-less) database the marker's id or a new one, then record it
    beside the database. Best effort: a store on read-only media still opens for reading."""
    try:
        _write_marker(data_dir, sql.claim_store_id(marker or secrets.token_hex(16)))
    except LOW_LEVEL as exc:
        log.warning("could not record the store's identity (%s); will try again on the next "
                    "start", exc)


def _read_marker(data_dir: Path) -> str | None:
    try:
        text = (data_dir / MARKER).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if len(text) == 32 and all(c in "0123456789abcdef" for c in text) else None


def _write_marker(data_dir: Path, store_id: str) -> None:
    path = data_dir / MARKER
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(store_id + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        log.warning("could not write %s (%s); will try again on the next start", MARKER, exc)


def collection_lost(sql: SQLiteStore, collection: str, folder: str,
                    detail: str) -> DamagedStoreError:
    """The refusal to open a collection whose database holds less than its files recorded."""
    found = quick_check(sql)
    checked = (f"SQLite's quick_check finds {len(found)} problem(s) in the database" if found
               else "SQLite's quick_check finds the database file sound, so rows were lost "
               "or an older copy of it was put back")
    return DamagedStoreError(
        f"Collection {collection!r}: {detail}; {checked}. citebot changed nothing: the vector "
        f"files are kept as they are. What to do: {RESTORE}; if this database is the copy you "
        f"mean to keep (an older backup put back on purpose), move the folder {folder} out of "
        f"the data directory, then run `citebot rebuild --collection {collection}`.")


def collection_folder(collection: str) -> str:
    """The folder of a collection's files under ``collections/`` in the data directory."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in collection)[:64]
    if safe != collection:  # keep distinct names distinct on disk
        safe += "-" + hashlib.sha256(collection.encode()).hexdigest()[:10]
    return safe
