"""The shape of retrieval/ and config/: which module may import which (read from the code
itself, imports under TYPE_CHECKING included), and what each package holds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import grimp
import pytest

from tests.test_architecture import cycles

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("retrieval", "index", "config", "bot", cache_dir=None)


@pytest.mark.parametrize("package", ["retrieval", "config"])
def test_no_import_cycle(graph: grimp.ImportGraph, package: str) -> None:
    """None in these packages, whatever the state of the others (tests.test_architecture
    holds the whole tree to the same)."""
    assert [group for group in cycles(graph)
            if any(m == package or m.startswith(package + ".") for m in group)] == []


def test_evaluation_is_a_package_of_its_own() -> None:
    names = ["evaluate", "evaluate_chains", "scoring", "splits", "baselines"]
    for name in names:
        assert importlib.util.find_spec(f"retrieval.evaluation.{name}") is not None
        assert not (ROOT / "retrieval" / f"{name}.py").exists()


def test_retrieval_reads_text_helpers_from_index_text(graph: grimp.ImportGraph) -> None:
    """What index/ and retrieval/ both use lives in ``index.text``, not in ingestion."""
    reaching = {(importer, imported) for importer in graph.modules
                if importer.startswith("retrieval")
                for imported in graph.find_modules_directly_imported_by(importer)
                if imported.startswith("index.ingest")}
    assert reaching == set()


LAYERS = ["retrieval.question retrieval.fusion", "retrieval.features", "retrieval.rank retrieval.search",
          "retrieval.quotes", "retrieval.answer"]


def test_answering_depends_one_way(graph: grimp.ImportGraph) -> None:
    """question <- features <- rank/search <- quotes <- answer: no layer reads one above it."""
    for i, layer in enumerate(LAYERS):
        for module in layer.split():
            above = {m for upper in LAYERS[i + 1:] for m in upper.split()}
            assert not graph.find_modules_directly_imported_by(module) & above, module
    assert graph.find_modules_directly_imported_by("retrieval.question") <= {
        "index.text", "index.models", "retrieval.rarity"}


def test_config_modules_stay_readable() -> None:
    """The settings are split by what they hold, each module under ~400 lines, and the names
    other packages import from ``config.settings`` still come from there."""
    from config.settings import BUNDLED_MODEL, POSTGRES_SCHEMES, Settings, parse_shard_ids

    assert BUNDLED_MODEL and POSTGRES_SCHEMES and parse_shard_ids("0-1") == (0, 1)
    assert Settings.describe is not None
    for module in sorted((ROOT / "config").glob("*.py")):
        assert len(module.read_text(encoding="utf-8").splitlines()) <= 400, module.name


def test_components_read_their_options_not_the_settings() -> None:
    """Each component is built from a small frozen options value made once from the settings
    (``Core.open``), and reads nothing else of them."""
    import dataclasses
    import inspect

    from index.indexer import Indexer, IndexerOptions
    from index.intake.entries import EntryIntake
    from index.intake.poller import FeedPoller, PollerOptions
    from retrieval.answer import Answerer, AnswerOptions
    from retrieval.written.client import ChatClient
    from retrieval.written.writer import Writer, WriterOptions

    for options in (IndexerOptions, PollerOptions, AnswerOptions, WriterOptions):
        assert dataclasses.is_dataclass(options) and options.__dataclass_params__.frozen
        assert callable(options.from_settings)
    for component in (Indexer, FeedPoller, EntryIntake, Answerer, Writer, ChatClient):
        assert "settings" not in inspect.signature(component).parameters, component
        assert "settings." not in inspect.getsource(component), component


def test_conversations_read_questions_not_answering(graph: grimp.ImportGraph) -> None:
    """Reading a follow-up and keeping turns need the question's rules (``question``), not
    the machinery that answers it."""
    answering = {"retrieval.answer", "retrieval.quotes", "retrieval.rank", "retrieval.search",
                 "retrieval.features"}
    for module in ("retrieval.conversation", "retrieval.followup"):
        assert not graph.find_modules_directly_imported_by(module) & answering, module
