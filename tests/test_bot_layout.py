"""The shape of `bot/`: two interfaces in two sub-packages, `bot.cli` (the command line) and
`bot.discord` (the Discord app), with what both use at `bot/`'s top level, and no import
circle anywhere (imports made only for type checking count too)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

PACKAGES = ("bot", "retrieval", "index", "config")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES)


def bot_modules(graph: grimp.ImportGraph) -> list[str]:
    return sorted(m for m in graph.modules if m == "bot" or m.startswith("bot."))


def test_no_module_of_bot_is_in_an_import_cycle(graph: grimp.ImportGraph) -> None:
    cycles = set()
    for module in bot_modules(graph):
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is not None:
                cycles.add(" -> ".join((module, *back)))
    assert not cycles, "\n".join(sorted(cycles))


def test_the_two_interfaces_live_apart(graph: grimp.ImportGraph) -> None:
    """The Discord app never imports the command line; the command line reaches the Discord
    app only to start it (`citebot run`); the shared modules import neither."""
    modules = bot_modules(graph)
    cli = [m for m in modules if m.startswith("bot.cli.") or m == "bot.cli"]
    app = [m for m in modules if m.startswith("bot.discord.") or m == "bot.discord"]
    shared = [m for m in modules if m not in cli and m not in app and m != "bot"]
    assert cli and app and shared
    crossing = {(a, b) for a in app for b in graph.find_modules_directly_imported_by(a)
                if b in cli}
    crossing |= {(c, b) for c in cli for b in graph.find_modules_directly_imported_by(c)
                 if b in app and c != "bot.cli.run"}
    crossing |= {(s, b) for s in shared for b in graph.find_modules_directly_imported_by(s)
                 if b in cli or b in app}
    assert not crossing, sorted(crossing)


def test_command_modules_import_the_context_never_the_entry_point(
        graph: grimp.ImportGraph) -> None:
    main = "bot.cli.app"
    importers = graph.find_modules_that_directly_import(main)
    assert importers <= {"bot.cli", "bot.cli.__main__"}, sorted(importers)  # main, re-exported
    commands = graph.find_modules_directly_imported_by(main) & set(bot_modules(graph))
    assert len(commands) >= 8, sorted(commands)  # app only lists them


def test_the_command_line_starts_without_the_bot_or_the_evaluation() -> None:
    """Every command module is imported to build the parser, so what only `run` and `eval`
    need (discord.py, the evaluation) must load inside them: `citebot --help` stays cheap."""
    code = ("import sys, bot.cli.app; bot.cli.app.build_parser(); "
            "print([m for m in ('discord', 'retrieval.evaluate', 'torch') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
