"""`citebot db migrate | status`: the PostgreSQL schema (docs/SCALING.md).

The embedded store needs neither: it upgrades its own schema when opened
(``index.store.sqlite_migrations``). With CITEBOT_DATABASE_URL set,
`citebot db status` says which schema version the database is at and what is pending, and
`citebot db migrate` applies what is pending (safe to run from several machines at once).
"""

from __future__ import annotations

import argparse
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
        "db", help="the PostgreSQL schema: status, migrate",
        description="Inspect or migrate the PostgreSQL database named by CITEBOT_DATABASE_URL.")
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="the schema's version and pending migrations")
    status.add_argument("--json", action="store_true")
    actions.add_parser("migrate", help="apply the pending migrations (idempotent)")


def cmd_db(ctx: Context) -> int:
    from index.store.postgres import migrate, schema_status

    url = ctx.settings.database_url
    if url is None:
        raise CitebotError(NO_DATABASE)
    args: argparse.Namespace = ctx.args
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
