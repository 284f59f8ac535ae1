"""What every command of the command line gets, and the options commands share.

A command module registers its own parser (``register(commands, common)``) with a
``handler`` that takes a `Context`: its arguments, the settings, and how to open the core.
Command modules import this module, never `app`, which only lists them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from config.settings import Settings
from index.encode.embed import Embedder

if TYPE_CHECKING:
    from retrieval.core import Core

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Handler: TypeAlias = Callable[["Context"], int]  # a command: its exit code


@dataclass(frozen=True)
class Context:
    """What a command gets: its arguments, the settings, and how to open the core."""

    args: argparse.Namespace
    settings: Settings
    embedder: Embedder | None = None  # given by tests, so the model loads once per session

    @property
    def collection(self) -> str:
        return str(self.args.collection)

    def core(self, settings: Settings | None = None) -> Core:
        """The core over these settings (or others, e.g. a scratch data directory)."""
        from retrieval.core import Core

        return Core.open(settings or self.settings, embedder=self.embedder)


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path,
                        help="data directory (default: $CITEBOT_DATA_DIR or ./citebot-data)")


def data_dir_options() -> argparse.ArgumentParser:
    """``--data-dir`` alone, for commands that work on the data directory, not a collection."""
    options = argparse.ArgumentParser(add_help=False)
    add_data_dir(options)
    return options


def common_options() -> argparse.ArgumentParser:
    """``--collection`` and ``--data-dir``, which most commands take."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--collection", default="default",
                        help="collection to use (default: %(default)s); a name is up to 64 "
                        "bytes of letters, digits, spaces, '-', '_' and '.'")
    add_data_dir(common)
    return common
