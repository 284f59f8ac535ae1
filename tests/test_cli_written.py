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
        writing = answer["writing"]  # written, partly written or fell back, and why
        assert set(writing) == {"outcome", "reason"}, case.name  # never the model's raw text
        assert writing["outcome"] == {"written": "written", "partial": "partly written",
                                      "fallback": "fell back"}[case.expect], case.name
        assert bool(writing["reason"]) is (case.expect == "fallback"), case.name
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
    assert "writing" not in json.loads(out)  # no model was asked
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


def test_verbose_ask_shows_the_models_raw_text_to_the_operator(configured, cli: Cli) -> None:
    """`citebot ask -v` prints what the model wrote, as it wrote it, on stderr; never by
    default, never in the answer."""
    _, current = configured
    current.append(next(c for c in CASES
                        if c.name == "a statement its citation does not support"))
    code, out, err = cli("-v", "ask", QUESTION)
    assert code == 0 and "The Tigers won the cup" in err and "Tigers" not in out
    assert "partly written" in err
    code, out, err = cli("ask", QUESTION)
    assert code == 0 and "Tigers" not in out + err
    code, out, err = cli("ask", QUESTION, "--json")
    assert code == 0 and "Tigers" not in out + err
