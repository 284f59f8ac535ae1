"""`citebot backup DEST` and `citebot restore SRC [--replace]`: the embedded store's backups
(index.store.backup, index.store.restore). Both work on the files alone: no model is loaded.

With CITEBOT_DATABASE_URL set everything is in PostgreSQL, which is backed up with its own
tools (docs/SCALING.md); both commands say so instead of copying a data directory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.context import Commands, Context, data_dir_options
from bot.cli.terminal import say
from index.errors import CitebotError

ON_POSTGRES = ("CITEBOT_DATABASE_URL is set: everything citebot keeps is in PostgreSQL, which "
               "is backed up with its own tools (pg_dump -Fc, restored with pg_restore; see "
               "docs/SCALING.md, \"Backing up\"); `citebot {0}` is for the embedded store.")


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """The `backup` and `restore` commands (on the data directory, not a collection)."""
    data_dir = data_dir_options()
    backup = commands.add_parser(
        "backup", parents=[data_dir], help="copy the embedded store, even while it runs",
        description="Copy the store (the SQLite database through its online backup API, with "
        "the vector files of the same generation) into the new directory DEST, and check the "
        "copy. Safe while the bot runs and articles are added.")
    backup.add_argument("dest", type=Path, metavar="DEST", help="a new (or empty) directory")
    backup.set_defaults(handler=cmd_backup)
    restore = commands.add_parser(
        "restore", parents=[data_dir], help="put a backup in place as the data directory",
        description="Check a backup written by `citebot backup` (refused, with the reason, "
        "when damaged or not a backup), then make it the data directory. A directory that "
        "holds a store is not overwritten unless --replace is given.")
    restore.add_argument("source", type=Path, metavar="SRC", help="the backup's directory")
    restore.add_argument("--replace", action="store_true",
                         help="move the store in the data directory aside (kept whole, as "
                         "<dir>.replaced-<time>) and put the backup in its place; stop "
                         "citebot first")
    restore.set_defaults(handler=cmd_restore)


def cmd_backup(ctx: Context) -> int:
    from index.store.backup import write_backup

    if ctx.settings.database_url is not None:
        raise CitebotError(ON_POSTGRES.format("backup"))
    made = write_backup(ctx.settings.data_dir, ctx.args.dest)
    left = (f"; the vector files of {', '.join(map(repr, made.vectors_left_out))} were "
            "changing and are rebuilt from the database when the backup is first opened"
            if made.vectors_left_out else "")
    say(f"backed up {made.articles} article(s) in {len(made.collections)} collection(s) to "
        f"{made.path} ({_size(made.size)}; checked: SQLite's integrity check and every "
        f"file's SHA-256){left}")
    return 0


def cmd_restore(ctx: Context) -> int:
    from index.store.restore import restore_backup

    if ctx.settings.database_url is not None:
        raise CitebotError(ON_POSTGRES.format("restore"))
    done = restore_backup(ctx.args.source, ctx.settings.data_dir, replace=ctx.args.replace)
    aside = f"; the store that was there is kept in {done.set_aside}" if done.set_aside else ""
    say(f"restored the backup of {done.backup.created_at} ({done.backup.articles} article(s)) "
        f"into {done.data_dir}{aside}")
    return 0


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"
