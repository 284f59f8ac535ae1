"""The follow-up evaluation: the chain generator's rules, and `citebot eval` on a chains file
(per turn, with and without context)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import Cli
from tests.conversation_texts import FERRY, LIBRARY, title_and_text

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "followup_chains", ROOT / "benchmarks" / "followup_chains.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ARTICLE = ("Kawann Short led the Panthers with eleven sacks. He was the team's best lineman. "
           "The Panthers defense allowed 308 points. Super Bowl 50 was played in California.")


@pytest.mark.parametrize(("question", "said", "made"), [
    ("How many sacks did Kawann Short have?", "Kawann Short", "How many sacks did he have?"),
    ("Who led the Panthers in sacks?", "the Panthers", "Who led them in sacks?"),
    ("What did the coach tell the Panthers defense?", "Panthers",
     "What did the coach tell their defense?"),
    ("Who was the Panthers' best lineman?", "Panthers", "Who was their best lineman?"),
    ("Where was Super Bowl 50 played?", "Super Bowl 50", "Where was it played?"),
    ("Was Super Bowl 50 a sellout?", "Super Bowl 50", "Was it a sellout?"),
    ("Who won a Super Bowl 50 ring?", "Super Bowl 50", None),  # not after "a"
    ("Who won the toss?", "Panthers", None),  # nothing said before
])
def test_a_name_said_before_becomes_a_pronoun(generator: ModuleType, question: str, said: str,
                                              made: str | None) -> None:
    result = generator.follow_up(question, said, ARTICLE)
    assert (result[0] if result else None) == made


def rows() -> list[dict[str, Any]]:
    ferry_title, ferry = title_and_text(FERRY)
    library_title, library = title_and_text(LIBRARY)
    qs = [("f1", "What did Lucia Ortiz say about the deal?", ["keeps the island connected"]),
          ("f2", "What else did Lucia Ortiz say?", ["two dollars"]),
          ("f3", "Who voted against the contract?", ["Derek Hale"]),
          ("l1", "When will the library stay open?", ["9 p.m."])]
    return [{"id": i, "question": q, "answers": a, "doc_id": i[0],
             "doc_title": ferry_title if i[0] == "f" else library_title,
             "doc_text": ferry if i[0] == "f" else library} for i, q, a in qs]


def test_chains_are_deterministic_and_split_by_article(generator: ModuleType) -> None:
    made = list(generator.chains(rows()))
    assert made == list(generator.chains(rows()))
    (chain,) = made  # the library's one question makes no chain
    assert [t["question"] for t in chain["turns"]] == [
        "What did Lucia Ortiz say about the deal?", "What else did he say?",  # no "she" near
        "Who voted against the contract?"]
    assert [t["rule"] for t in chain["turns"]] == ["first", "pronoun:he", "as-is"]
    assert chain["split"] == generator.split_of("f") and chain["doc_id"] == "f"


def test_eval_on_a_chains_file_scores_each_turn_with_and_without_context(
        cli: Cli, tmp_path: Path, generator: ModuleType) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows()), encoding="utf-8")
    chains = tmp_path / "chains.jsonl"
    generator_main(generator, questions, chains)
    code, out, _ = cli("eval", str(chains), "--output", str(tmp_path / "report.json"))
    assert code == 0 and "1 chains, 3 turns, over 2 articles" in out
    report = json.loads((tmp_path / "report.json").read_text())
    hits = {(r["split"], r["mode"], r["turn"]): r["quotes hit@1"] for r in report["results"]}
    assert hits[("all", "with context", "2")] == 1.0  # "What else did he say?"
    assert hits[("all", "without context", "2")] == 0.0
    assert hits[("all", "original question", "2")] == 0.0  # "what else" needs what was shown
    assert hits[("all", "with context", "1")] == hits[("all", "without context", "1")] == 1.0


def generator_main(generator: ModuleType, questions: Path, chains: Path) -> None:
    import sys

    argv = sys.argv
    sys.argv = ["followup_chains.py", str(questions), "--output", str(chains)]
    try:
        assert generator.main() == 0
    finally:
        sys.argv = argv
