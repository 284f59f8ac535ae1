"""Putting a backup of the embedded store in place (``index.store.backup`` writes them).

The backup is checked whole first (every file against its checksum, the database with
``integrity_check``): a damaged or foreign one is refused with the reason, and nothing is
changed. The store is then assembled in a hidden sibling of the data directory (the files
checked again as copied, the identity file written, all fsynced) and renamed into place. A
data directory that holds a store is never overwritten: only with ``replace=True`` is it moved
aside (to ``<name>.replaced-<time>``, kept whole), and only when citebot is stopped.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from index.store.backup import (
    Backup,
    BackupError,
    check_backup,
    fsync_path,
    fsync_tree,
    sha256_of,
    staged,
)
from index.store.embedded.integrity import DATABASE, MARKER
from index.store.embedded.locks import IN_USE, sole_use


@dataclass(frozen=True)
class Restored:
    """What a restore did."""

    backup: Backup
    data_dir: Path
    set_aside: Path | None  # where the store that was there went (``replace=True``)


def restore_backup(source: Path, data_dir: Path, *, replace: bool = False) -> Restored:
    """Put the backup in ``source`` in place as the store in ``data_dir``."""
    backup = check_backup(source)
    _refuse_to_overwrite(source, data_dir, replace)
    with staged(data_dir, "restoring", f"restore into {data_dir}",
                "nothing there was changed. Free space or fix the permissions, then restore "
                "again.") as stage:
        _assemble(backup, stage)
        with sole_use(data_dir) as alone:
            if not alone:
                raise BackupError(
                    f"citebot is using {data_dir} right now (the bot, or another command): "
                    "stop it, then restore again; nothing was changed.")
            set_aside = _swap(stage, data_dir)
    return Restored(backup, data_dir, set_aside)


def _swap(stage: Path, data_dir: Path) -> Path | None:
    """Move what ``data_dir`` holds aside (if anything), then the assembled store into it;
    where the old store went."""
    set_aside = None
    if data_dir.exists():
        if any(p.name != IN_USE for p in data_dir.iterdir()):
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            set_aside = data_dir.with_name(f"{data_dir.name}.replaced-{stamp}")
            os.replace(data_dir, set_aside)
        else:
            shutil.rmtree(data_dir)
    try:
        os.replace(stage, data_dir)
    except OSError:
        if set_aside is not None:
            os.replace(set_aside, data_dir)  # put it back: nothing changed
        raise
    fsync_path(data_dir.parent)
    return set_aside


def _refuse_to_overwrite(source: Path, data_dir: Path, replace: bool) -> None:
    if data_dir.resolve() == source.resolve():
        raise BackupError("The backup and the data directory are the same directory; give "
                          "the data directory to restore into with --data-dir.")
    if replace or not data_dir.exists() or all(p.name == IN_USE for p in data_dir.iterdir()):
        return
    held = "a citebot store" if (data_dir / DATABASE).exists() else "files"
    raise BackupError(
        f"{data_dir} already holds {held}; restore never overwrites it unless told to. "
        "Either restore into a new data directory (--data-dir NEW), or stop citebot (the bot "
        "and every command using this directory), then run `citebot restore "
        f"{source} --replace`: the store there is moved aside whole, not deleted.")


def _assemble(backup: Backup, stage: Path) -> None:
    """The backup's files, each checked again as copied, and the identity file; fsynced."""
    for name, (_, digest) in backup.files.items():
        target = stage / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(backup.path / name, target)
        if sha256_of(target) != digest:
            raise BackupError(f"The backup {backup.path} changed while it was restored "
                              f"({name}); nothing was changed. Restore again.")
    if backup.store_id is not None:  # else the database gets its id when first opened
        (stage / MARKER).write_text(backup.store_id + "\n", encoding="ascii")
    fsync_tree(stage)

