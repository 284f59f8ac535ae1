"""The shape of the house, checked: the import contracts in pyproject.toml hold (data flows
config -> index -> retrieval -> bot; only index.store imports a database driver or FAISS; only
bot imports discord), a planted violation is caught and named, and no package imports itself
in a circle (imports made only for type checking count: they are the same knot)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "index", "retrieval", "bot")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the packages in `tree`, with the contracts of its pyproject.toml."""
    run = ("import sys; from importlinter.cli import lint_imports_command; "
           "sys.argv = ['lint-imports', '--no-cache']; sys.exit(lint_imports_command())")
    return subprocess.run([sys.executable, "-c", run], cwd=tree, capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(tree)})


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout, result.stdout


def test_a_planted_violation_breaks_the_contracts_and_is_named(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    search = tmp_path / "retrieval" / "search.py"
    search.write_text(search.read_text() + "\nimport sqlite3  # planted\n")
    models = tmp_path / "index" / "models.py"
    models.write_text(models.read_text() + "\nimport bot.cli  # planted\n")

    result = lint_imports(tmp_path)

    print(result.stdout)  # the output a reviewer sees, shown once
    assert result.returncode != 0, result.stdout
    assert "Only index.store talks to a database or a vector file BROKEN" in result.stdout
    assert "retrieval.search -> sqlite3" in result.stdout, result.stdout
    assert "Data flows one way: config -> index -> retrieval -> bot BROKEN" in result.stdout
    assert "index.models -> bot.cli" in result.stdout, result.stdout


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    imports = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(imports):
        if start in order:
            continue
        work = [(start, iter(sorted(imports[start])))]
        order[start] = low[start] = len(order)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, targets = work[-1]
            target = next((t for t in targets if t in imports), None)
            if target is not None:
                if target not in order:
                    order[target] = low[target] = len(order)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(imports[target]))))
                elif target in on_stack:
                    low[module] = min(low[module], order[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == order[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_cycles_finds_a_planted_circle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.one", "a.two", "a.three"):
        graph.add_module(name)
    graph.add_import(importer="a.one", imported="a.two")
    graph.add_import(importer="a.two", imported="a.one")
    graph.add_import(importer="a.three", imported="a.one")
    assert cycles(graph) == [["a.one", "a.two"]]


def test_no_package_imports_itself_in_a_circle() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)  # TYPE_CHECKING imports included
    found = cycles(graph)
    assert not found, "modules importing each other in a circle: " + "; ".join(
        " <-> ".join(group) for group in found)
