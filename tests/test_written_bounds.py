"""Every request to the model ends at its deadline with its connection closed and its reader
thread gone, and a reply is read up to its bound: against the fake OpenAI-compatible server
(`tests.fakellm`), through the core."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.fakellm import FakeLLM, Prompt, Reply
from tests.llm_cases import CASES, DEADLINE_SLACK_S, QUESTION, connections_to, model_threads
from tests.test_written import llm_settings, open_core

REPLY_MAX_BYTES = 4 * 2**20  # the bound docs/LLM.md states


def test_keepalive_only_streams_end_at_the_deadline_leaving_nothing(tmp_path: Path) -> None:
    """A stream that sends only keep-alive comments: every question falls back at its
    deadline with its connection closed and its thread gone (before, one of each was left
    behind per question)."""
    with FakeLLM(lambda p: Reply(keepalive_s=0.05)) as llm:
        with open_core(llm_settings(tmp_path / "data", llm, llm_timeout_s=1.0)) as core:
            for _ in range(4):
                started = time.monotonic()
                answer = core.ask("default", QUESTION, write=True)
                elapsed = time.monotonic() - started
                assert answer.written is None and elapsed < 1.0 + DEADLINE_SLACK_S
                assert model_threads() == [] and connections_to(llm) == 0
        assert len(llm.requests) == 4


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_a_huge_reply_is_read_only_up_to_its_bound(tmp_path: Path, stream: bool) -> None:
    """64 MiB sent a mebibyte every 30 ms (padding before a whole completion, or comments in
    a stream): citebot stops reading at its bound and closes the connection; before, it read
    on after the deadline, to the end."""
    size = 64 * 2**20
    with FakeLLM(lambda p: Reply("x [S1].", body_bytes=size, pace_s=0.03)) as llm:
        core = open_core(llm_settings(tmp_path / "data", llm, llm_timeout_s=1.0,
                                      llm_stream=stream))
        try:
            started = time.monotonic()
            answer = core.ask("default", QUESTION, write=True)
            elapsed = time.monotonic() - started
        finally:
            core.close()
        assert answer.written is None and elapsed < 1.0 + DEADLINE_SLACK_S
        assert model_threads() == [] and connections_to(llm) == 0
        until = time.monotonic() + 3.0
        while llm.answering and time.monotonic() < until:
            time.sleep(0.02)
        assert llm.answering == 0  # the fake saw the connection go
        assert llm.sent[-1] < REPLY_MAX_BYTES + 8 * 2**20, llm.sent


def test_a_compressed_reply_is_refused_not_unpacked(tmp_path: Path) -> None:
    """A correct answer behind 64 MiB of whitespace, gzip-compressed to a few hundred KiB:
    citebot asks for replies uncompressed and refuses one that comes compressed anyway (a
    compressed reply could unpack to far more than the bound); before, it was unpacked and
    the answer written."""
    correct = next(c for c in CASES if c.name == "correct")

    def script(p: Prompt) -> Reply:
        return Reply(correct.reply(p).text, body_bytes=64 * 2**20, gzip=True)

    with FakeLLM(script) as llm, open_core(
            llm_settings(tmp_path / "data", llm, llm_stream=False)) as core:
        answer = core.ask("default", QUESTION, write=True)
    assert answer.written is None
    assert {k.lower(): v for k, v in llm.headers[-1].items()}["accept-encoding"] == "identity"
    assert model_threads() == [] and connections_to(llm) == 0
