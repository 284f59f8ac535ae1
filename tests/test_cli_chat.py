"""Conversations on the command line: `citebot chat`, `ask --jsonl` with a conversation per
line, and `citebot eval` on a file of follow-up chains."""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.settings import Settings
from retrieval.core import Core
from tests.conftest import Cli
from tests.conversation_texts import FERRY, FERRY_CHAIN, LIBRARY, SEED, SEED_CHAINS, Step, holds
from tests.fakes import HashEmbedder

ROOT = Path(__file__).resolve().parents[1]


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode())))


def add_articles(cli: Cli, tmp_path: Path) -> None:
    for name, article in (("ferry.txt", FERRY), ("library.txt", LIBRARY)):
        (tmp_path / name).write_text(article, encoding="utf-8")
        assert cli("add", str(tmp_path / name))[0] == 0


def answers_of(out: str) -> list[str]:
    """The chat's answers: without a terminal, each comes under its question ("? ...")."""
    return [block for block in re.split(r"^\? .*$", out, flags=re.M) if block.strip()]


def check_chat(out: str, chain: list[Step]) -> None:
    answers = answers_of(out)
    assert len(answers) == len(chain)
    for (question, words), answer in zip(chain, answers, strict=True):
        first = answer.split("[1]")[0]  # the first quote, before its marker
        assert holds(words, " ".join(first.split())), (question, answer)


def test_chat_carries_the_conversation_and_ends_at_end_of_input(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_articles(cli, tmp_path)
    stdin(monkeypatch, "\n".join(q for q, _ in FERRY_CHAIN) + "\n\n")
    code, out, err = cli("chat")
    assert code == 0 and not err
    check_chat(out, FERRY_CHAIN)
    assert "(read as: What did Ortiz say?)" in out
    assert not (tmp_path / "data" / "chat-history").exists()  # no terminal, no history


def test_chat_escapes_control_characters(cli: Cli, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.txt").write_text("Bell story\n\nThe mayor said \x1b]0;owned\x07 twice.\n")
    cli("add", str(tmp_path / "a.txt"))
    stdin(monkeypatch, "What did the mayor say?\n")
    code, out, _ = cli("chat", "--conversation", "x")
    assert code == 0 and "\\x1b]0;owned\\x07" in out and "\x1b" not in out


def test_chat_resumes_a_named_conversation(cli: Cli, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    add_articles(cli, tmp_path)
    stdin(monkeypatch, "What did Ortiz say about the deal?\n")
    assert cli("chat", "--conversation", "ferry")[0] == 0
    stdin(monkeypatch, "What else did she say?\n")  # a later session, same name
    code, out, _ = cli("chat", "--conversation", "ferry")
    assert code == 0 and "fares would stay at two dollars" in out.split("[1]")[0]


def test_ask_jsonl_follows_up_within_each_conversation(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_articles(cli, tmp_path)
    lines = [{"id": 1, "question": "What did Ortiz say about the deal?", "conversation": "a"},
             {"id": 2, "question": "What did Hale say?", "conversation": 7},
             {"id": 3, "question": "What else did she say?", "conversation": "a"},
             {"id": 4, "question": "What else did she say?"},
             {"id": 5, "question": "x", "conversation": ["not", "an id"]}]
    stdin(monkeypatch, "".join(json.dumps(line) + "\n" for line in lines))
    code, out, _ = cli("ask", "--jsonl")
    answers = {a["id"]: a for a in map(json.loads, out.splitlines())}
    assert code == 1 and answers[5]["error"].startswith('"conversation" must be')
    assert answers[3]["conversation"] == "a" and answers[2]["conversation"] == "7"
    assert answers[3]["read_as"] == "What did Ortiz say?"
    assert "fares would stay" in answers[3]["quotes"][0]["text"]
    assert answers[4]["read_as"] is None and "conversation" not in answers[4]


@pytest.mark.skipif(not SEED.exists(), reason="the shared seed article is not present")
def test_seed_article_chains_in_chat(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("add", str(SEED))[0] == 0
    for number, chain in enumerate(SEED_CHAINS):
        stdin(monkeypatch, "\n".join(q for q, _ in chain) + "\n")
        code, out, _ = cli("chat", "--conversation", f"seed-{number}")
        assert code == 0
        check_chat(out, chain)


def test_chat_in_a_terminal_keeps_its_history(tmp_path: Path) -> None:
    """`citebot chat` as a subprocess on a pseudo-terminal: readline history in the data
    directory, Ctrl-D ends."""
    pty = pytest.importorskip("pty")
    script = ("import sys; from bot.cli import main; from tests.fakes import HashEmbedder; "
              "sys.exit(main(['chat'], embedder=HashEmbedder()))")
    data = tmp_path / "data"
    settings = Settings(data_dir=data, _env_file=None)  # type: ignore[call-arg]
    with Core.open(settings, embedder=HashEmbedder()) as core:  # chat needs an article
        core.add_text("default", title="Ferry", text=FERRY.partition("\n")[2])
    env = {"CITEBOT_DATA_DIR": str(data), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
           "TERM": "dumb", "CITEBOT_MODEL_CACHE_DIR": str(tmp_path / "models")}
    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=child_fd, stdout=child_fd,
                            stderr=child_fd, env=env, cwd=tmp_path)
    os.close(child_fd)
    try:
        _read_until(main_fd, b"? ")  # typed ahead, input could be flushed by readline
        os.write(main_fd, b"Who runs the ferry?\n")
        _read_until(main_fd, b"\n? ")
        os.write(main_fd, b"\x04")
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        os.close(main_fd)
    history = (data / "chat-history").read_text(encoding="utf-8")
    assert "Who runs the ferry?" in history


def _read_until(fd: int, marker: bytes, within_s: float = 60.0) -> bytes:
    """What the terminal shows until ``marker`` (an upper bound on the wait, not a timing)."""
    seen = b""
    deadline = time.monotonic() + within_s
    while marker not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {marker!r} on the terminal; it shows {seen!r}")
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
    return seen
