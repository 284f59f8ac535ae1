"""`citebot ask` with a language model configured (the fake of `tests.fakellm`): every
scripted case prints only verbatim quotes, falls back to the quotes-only answer on every
failure, and `--no-llm` turns the model off for one question."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.fakellm import FakeLLM
from tests.llm_cases import (
    ARTICLES,
    CASES,
    QUESTION,
    STALL_S,
    Case,
    connections_to,
    model_threads,
    unsafe_shown,
    unverified_quotes,
)


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli):
    current: list[Case] = []
    with FakeLLM(lambda prompt: current[-1].reply(prompt)) as llm:
        for name, value in {"LLM_BASE_URL": llm.base_url, "LLM_MODEL": "fake-model",
                            "LLM_TIMEOUT_S": "2", "LLM_PASSAGES": "10",
                            "MIN_SCORE": "-1"}.items():
            monkeypatch.setenv(f"CITEBOT_{name}", value)
        for i, article in enumerate(ARTICLES):
            path = tmp_path / f"article{i}.txt"
            path.write_text(article)
            assert cli("add", str(path))[0] == 0
        yield llm, current


def test_every_scripted_case_on_the_command_line(configured, cli: Cli) -> None:
    llm, current = configured
    for case in CASES:
        current.append(case)
        asked = len(llm.requests)
        started = time.monotonic()
        code, out, err = cli("ask", case.question)
        elapsed = time.monotonic() - started
        assert code == 0 and len(llm.requests) == asked + 1, (case.name, err, out)
        assert unverified_quotes(out) == [], (case.name, out)
        assert unsafe_shown(out) == [], (case.name, out)
        code, shown, _ = cli("ask", case.question, "--json")
        answer = json.loads(shown)
        assert all(unverified_quotes(q["text"]) == [] for q in answer["quotes"]), case.name
        assert all(q["text"] in "\n".join(ARTICLES) for q in answer["quotes"]), case.name
        plain = cli("ask", case.question, "--no-llm")[1]
        if case.expect == "fallback":
            assert out == plain and "written" not in answer, case.name
            assert elapsed < STALL_S, case.name
        else:
            written = answer["written"]
            assert written["claims"] and (written["notice"] is not None) is (
                case.expect == "partial"), case.name
            assert out != plain and written["claims"][0]["text"][:15] in " ".join(out.split())
            for claim in written["claims"]:
                assert unverified_quotes(claim["text"]) == [], (case.name, claim)
                assert unsafe_shown(claim["text"]) == [], (case.name, claim)
                assert "@" not in claim["text"] and "http" not in claim["text"]


def test_no_llm_flag_and_help(configured, cli: Cli) -> None:
    llm, current = configured
    current.append(CASES[0])
    code, out, _ = cli("ask", QUESTION, "--no-llm", "--json")
    assert code == 0 and "written" not in json.loads(out) and llm.requests == []
    code, out, _ = cli("ask", QUESTION, "--json")
    assert json.loads(out)["written"]["model"] == "fake-model" and len(llm.requests) == 1
    with pytest.raises(SystemExit):
        cli("ask", "--help")


def test_keepalive_streams_leave_no_thread_nor_connection_on_the_command_line(
        configured, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """`citebot ask --jsonl`, five questions against a server that sends only keep-alive
    comments: each falls back at its deadline, and nothing of the model's is left running."""
    llm, current = configured
    current.append(Case("keep-alive comments only", None, "fallback", keepalive_s=0.05))
    lines = "".join(json.dumps({"id": n, "question": QUESTION}) + "\n" for n in range(5))
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(lines.encode())))
    code, out, err = cli("ask", "--jsonl")
    answers = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(answers) == 5 and all("written" not in a for a in answers), err
    assert len(llm.requests) == 5
    assert model_threads() == [] and connections_to(llm) == 0
