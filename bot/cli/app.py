"""The command-line tool: ``citebot add | ask | chat | list | remove | rebuild | stats | feeds |
run | eval | db | backup | restore``.

It only parses arguments, calls the core and renders; core errors become one clear line on
stderr and a non-zero exit. Each command module registers its own parser; this module lists
them, in the order ``citebot --help`` shows them, and runs the one asked for.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import logging
import os
import sys

from pydantic import ValidationError
from pydantic_settings import SettingsError

from bot.cli import add, ask, backup, chat, db, evaluation, feeds, insights, library, run
from bot.cli.context import Context, Handler, common_options
from bot.cli.logs import TEXT_FORMAT, use_format
from bot.cli.terminal import complain, for_operator
from config.settings import Settings
from index.encode.embed import Embedder
from index.errors import CitebotError
from index.names import check_collection

log = logging.getLogger("citebot")

#: The command modules, in the order of `citebot --help`.
COMMAND_MODULES = (add, ask, chat, library, feeds, insights, run, evaluation, db, backup)

EPILOG = """environment: every setting can be given as CITEBOT_<NAME> (for example CITEBOT_DATA_DIR,
CITEBOT_MODEL, CITEBOT_DISCORD_TOKEN, CITEBOT_DATABASE_URL; CITEBOT_LLM_BASE_URL and
CITEBOT_LLM_MODEL for answers written by a language model, docs/LLM.md) or in a .env file; see
the README. A list setting is comma-separated or JSON (CITEBOT_FETCH_ALLOW_PORTS=80,443,8080)."""

VERBOSE_HELP = ("more logging (-v info, -vv debug); with ask, -v also prints the language "
                "model's unchecked text on stderr")


def _version() -> str:
    """The installed package's version (its metadata), or "unknown" when run from a checkout."""
    try:
        return importlib.metadata.version("citebot")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citebot", epilog=EPILOG,
        description="Answer questions about news articles with verbatim, cited quotes.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    parser.add_argument("--version", action="version", version=f"citebot {_version()}")
    common = common_options()
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands, common)
    _verbose_everywhere(parser)
    return parser


def _verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """-v after any command too (`citebot run -v`), counted with the one before it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # once per parser
                sub.add_argument("-v", "--verbose", action="count", dest="verbose_after",
                                 default=argparse.SUPPRESS, help=VERBOSE_HELP)
                _verbose_everywhere(sub)


def main(argv: list[str] | None = None, *, embedder: Embedder | None = None) -> int:
    args = build_parser().parse_args(argv)
    _log_at(args.verbose + getattr(args, "verbose_after", 0))
    try:
        code = _run(args, embedder)
        sys.stdout.flush()  # here, so that a reader gone is seen here (not at exit)
    except BrokenPipeError:  # `citebot stats | head -3`: the reader has all it wanted
        _drop_stdout()
        return READER_GONE
    return code


READER_GONE = 141  # the exit code of a process ended by SIGPIPE, as the shell reports it


def _run(args: argparse.Namespace, embedder: Embedder | None) -> int:
    settings = _settings(args)
    if settings is None:
        return 2
    use_format(settings.log_format)
    try:
        if hasattr(args, "collection"):
            check_collection(args.collection)
    except CitebotError as exc:
        complain(str(exc))
        return 2
    try:
        handler: Handler = args.handler  # set by the command's module (register)
        return handler(Context(args, settings, embedder))
    except CitebotError as exc:
        complain(for_operator(exc))
        return 1
    except KeyboardInterrupt:
        complain("interrupted")
        return 130


def _settings(args: argparse.Namespace) -> Settings | None:
    """The settings (with ``--data-dir``), or None once the reason they cannot be read is
    said."""
    try:
        data_dir = getattr(args, "data_dir", None)  # `db` works on the database, not a directory
        return Settings(**({"data_dir": data_dir} if data_dir else {}))
    except (ValidationError, SettingsError) as exc:
        complain(Settings.describe(exc))
    except UnicodeDecodeError as exc:  # only .env is read as bytes
        complain(f"The .env file here is not UTF-8 text (byte {exc.start + 1}); save it as "
                 "UTF-8.")
    except OSError as exc:
        complain(f"Cannot read the .env file here: {exc.strerror or exc}.")
    return None


def _log_at(verbosity: int) -> None:
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbosity, 2)]
    logging.basicConfig(level=level, format=TEXT_FORMAT)
    # which CPU build of faiss loads ("Could not load library with AVX512 support"): noise
    # but when debugging
    logging.getLogger("faiss").setLevel(logging.WARNING if level > logging.DEBUG else 0)


def _drop_stdout() -> None:
    """Point standard output at /dev/null, so that flushing it at exit cannot fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
