"""Backing up the embedded store while it runs, and checking a backup.

A backup is a directory that ``write_backup`` fills and ``check_backup`` reads:

    citebot-backup.json     what it holds: format, store id, schema version, when, and each
                            file's size and SHA-256
    citebot.sqlite3         a consistent copy of the database (SQLite's online backup API:
                            one read transaction, so writers go on meanwhile)
    collections/<folder>/   each collection's manifest and vector file, when they are of the
                            copied database's generation (else left out: the store rebuilds
                            them from the database when it is first opened)

It is written into a hidden sibling directory and renamed into place only once checked
(``integrity_check`` of the copy, every file read back against its checksum): a backup that
is killed or fails leaves no directory that looks like a backup, and never changes the store,
which it only reads. ``index.store.restore`` puts a backup in place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from index.errors import StorageError
from index.store.embedded import sqlite_migrations
from index.store.embedded.integrity import DATABASE, MARKER, collection_folder
from index.store.embedded.vectors import MANIFEST

log = logging.getLogger(__name__)

CONTENTS = "citebot-backup.json"
KIND = "citebot embedded store backup"
FORMAT = 1


class BackupError(StorageError):
    """A backup could not be written, or one given to restore is damaged or not a backup."""


@dataclass(frozen=True)
class Backup:
    """What a backup holds, as its contents file says (checked against its files)."""

    path: Path
    store_id: str | None  # None: a database from before stores had ids (given one on open)
    schema_version: int
    created_at: str
    files: dict[str, tuple[int, str]]  # relative path -> (bytes, SHA-256)
    articles: int
    collections: tuple[str, ...]
    vectors_left_out: tuple[str, ...]  # collections whose vector files are rebuilt on open

    @property
    def size(self) -> int:
        return sum(size for size, _ in self.files.values())


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def fsync_tree(root: Path) -> None:
    """fsync every file and directory under ``root``, then ``root`` itself."""
    for path in sorted(root.rglob("*"), reverse=True):
        fsync_path(path)
    fsync_path(root)


def fsync_path(path: Path) -> None:
    """fsync a file or a directory."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def integrity_problems(path: Path) -> list[str]:
    """What SQLite's ``integrity_check`` finds wrong with the database at ``path`` (opened
    read-only; [] when nothing)."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = db.execute("PRAGMA integrity_check(20)").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return [f"SQLite cannot read it ({getattr(exc, 'sqlite_errorname', None) or exc})"]
    return [str(r[0]) for r in rows if r[0] != "ok"]


# -- writing -------------------------------------------------------------------------------
def write_backup(data_dir: Path, dest: Path) -> Backup:
    """Copy the store in ``data_dir`` into the new directory ``dest``, consistently, while
    it may be in use; check the copy and return what it holds (BackupError otherwise)."""
    database = data_dir / DATABASE
    if not database.is_file() or not database.stat().st_size:
        raise BackupError(f"There is no citebot store in {data_dir} to back up (no {DATABASE}); "
                          "give the data directory with --data-dir or CITEBOT_DATA_DIR.")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} already exists; a backup goes into a new (or empty) "
                          "directory: give another one.")
    with staged(dest, "partial", f"write the backup into {dest}",
                "the store was not changed. Free space or choose another place, then run the "
                "backup again.") as stage:
        _fill(data_dir, stage)
        fsync_tree(stage)
        if dest.exists():
            dest.rmdir()  # empty, checked above
        os.replace(stage, dest)
        fsync_path(dest.parent)
    return check_backup(dest)  # every file read back, as restore will


@contextmanager
def staged(dest: Path, kind: str, action: str, unchanged: str) -> Iterator[Path]:
    """A new directory beside ``dest`` to assemble a backup or a restore in (what a killed one
    left there is removed first), removed at the end whatever happens; an OSError inside
    leaves as BackupError: "Could not ``action`` (why); ``unchanged``"."""
    for old in dest.parent.glob(f".{dest.name}.{kind}-*"):
        shutil.rmtree(old, ignore_errors=True)
    stage = dest.parent / f".{dest.name}.{kind}-{secrets.token_hex(4)}"
    try:
        stage.mkdir(parents=True)
        yield stage
    except OSError as exc:
        raise BackupError(f"Could not {action} ({exc.strerror or exc}); {unchanged}") from exc
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _fill(data_dir: Path, stage: Path) -> Backup:
    """The database copy, the vector files of its generations, the contents file; checked."""
    copy = stage / DATABASE
    _copy_database(data_dir / DATABASE, copy)
    problems = integrity_problems(copy)
    if problems:
        raise BackupError(f"The copy of {DATABASE} fails SQLite's integrity check "
                          f"({problems[0]}): the store itself may be damaged. Nothing was "
                          "written; run `citebot stats` to see what the store says.")
    facts = _facts(copy)
    files = {DATABASE: (copy.stat().st_size, sha256_of(copy))}
    left_out = []
    for collection, generation in facts["generations"].items():
        copied = _copy_vectors(data_dir, stage, collection, generation)
        if copied:
            files.update(copied)
        else:
            left_out.append(collection)
    contents = {"kind": KIND, "format": FORMAT, "store_id": facts["store_id"],
                "schema_version": facts["schema_version"], "articles": facts["articles"],
                "collections": sorted(facts["generations"]), "vectors_left_out": left_out,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "files": {name: {"bytes": size, "sha256": digest}
                          for name, (size, digest) in sorted(files.items())}}
    (stage / CONTENTS).write_text(json.dumps(contents, indent=2) + "\n", encoding="utf-8")
    return _parse(stage, contents)


def _copy_database(source: Path, target: Path) -> None:
    """SQLite's online backup, in one step: a single read transaction sees one committed
    state, and writers (WAL) are not held up by it."""
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
    finally:
        src.close()


def _facts(copy: Path) -> dict[str, Any]:
    db = sqlite3.connect(f"{copy.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
        return {"store_id": row[0] if row else None,
                "schema_version": sqlite_migrations.status(db).version,
                "articles": db.execute("SELECT count(*) FROM articles").fetchone()[0],
                "generations": dict(db.execute("SELECT name, generation FROM collections"))}
    finally:
        db.close()


def _copy_vectors(data_dir: Path, stage: Path, collection: str,
                  generation: int) -> dict[str, tuple[int, str]]:
    """A collection's manifest and vector file when they are of ``generation`` (what the
    database copy holds) and whole; {} otherwise (they are rebuilt on open)."""
    folder = Path("collections") / collection_folder(collection)
    source = data_dir / folder
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
        name = manifest["file"]
        if manifest.get("generation") != generation or not manifest.get("sha256") or \
                PurePosixPath(name).name != name:
            return {}
        (stage / folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, stage / folder / name)  # its name is never reused
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("backup: the vector file of %r is left out (%s); it is rebuilt on open",
                 collection, exc)
        return {}
    digest = sha256_of(stage / folder / name)
    if digest != manifest["sha256"]:  # replaced by a newer save while copied
        (stage / folder / name).unlink()
        return {}
    (stage / folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    copied = stage / folder / MANIFEST
    return {f"{folder.as_posix()}/{MANIFEST}": (copied.stat().st_size, sha256_of(copied)),
            f"{folder.as_posix()}/{name}": ((stage / folder / name).stat().st_size, digest)}


# -- checking ------------------------------------------------------------------------------
def check_backup(path: Path) -> Backup:
    """What the backup in ``path`` holds, after checking every file against its checksum and
    the database with ``integrity_check``; BackupError saying why it is refused otherwise."""
    if not (path / CONTENTS).is_file():
        what = "does not exist" if not path.exists() else f"has no {CONTENTS}"
        raise BackupError(f"{path} is not a citebot backup: it {what}. Give the directory "
                          "`citebot backup DEST` wrote.")
    try:
        contents = json.loads((path / CONTENTS).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"The backup {path} is damaged: its {CONTENTS} is unreadable "
                          f"({exc}). Use another backup.") from exc
    backup = _parse(path, contents)
    for name, (size, digest) in backup.files.items():
        file = path / name
        if not file.is_file():
            raise BackupError(f"The backup {path} is damaged: {name} is missing. Use another "
                              "backup.")
        if file.stat().st_size != size or sha256_of(file) != digest:
            raise BackupError(f"The backup {path} is damaged: {name} is not what was written "
                              "(its size or SHA-256 differs). Use another backup.")
    problems = integrity_problems(path / DATABASE)
    if problems:
        raise BackupError(f"The backup {path} is damaged: its {DATABASE} fails SQLite's "
                          f"integrity check ({problems[0]}). Use another backup.")
    if backup.schema_version > sqlite_migrations.LATEST:
        raise BackupError(f"The backup {path} was made by a newer citebot (schema version "
                          f"{backup.schema_version}; this one knows {sqlite_migrations.LATEST})"
                          ". Upgrade citebot, then restore it.")
    if _facts(path / DATABASE)["store_id"] != backup.store_id:
        raise BackupError(f"The backup {path} is damaged: its {DATABASE} is another store's "
                          "than its contents file says. Use another backup.")
    return backup


def _parse(path: Path, contents: Any) -> Backup:
    """The contents file's fields; BackupError when it is not a citebot backup's."""
    if not isinstance(contents, dict) or contents.get("kind") != KIND:
        raise BackupError(f"{path} is not a citebot backup: its {CONTENTS} is not one "
                          "`citebot backup` wrote.")
    if contents.get("format") != FORMAT:
        raise BackupError(f"The backup {path} has format {contents.get('format')!r}, which "
                          "this citebot does not know. Upgrade citebot, then restore it.")
    try:
        files = {str(n): (int(f["bytes"]), str(f["sha256"]))
                 for n, f in contents["files"].items()}
        store_id = contents["store_id"]
        backup = Backup(path, None if store_id is None else str(store_id),
                        int(contents["schema_version"]),
                        str(contents["created_at"]), files, int(contents["articles"]),
                        tuple(contents["collections"]), tuple(contents["vectors_left_out"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BackupError(f"The backup {path} is damaged: its {CONTENTS} lacks {exc}. Use "
                          "another backup.") from exc
    unsafe = [n for n in files if PurePosixPath(n).is_absolute() or ".." in PurePosixPath(n).parts]
    if unsafe or DATABASE not in files or MARKER in files:
        raise BackupError(f"{path} is not a citebot backup: its {CONTENTS} names files a "
                          "backup never holds. Use another backup.")
    return backup
