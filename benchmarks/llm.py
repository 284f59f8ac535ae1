"""Written-answer figures for docs/LLM.md, against the fake OpenAI-compatible server of the
tests (`tests/fakellm.py`) on 127.0.0.1, over every scripted case of `tests/llm_cases.py`.

    .venv/bin/python benchmarks/llm.py [--runs 3] [--timeout 2] [--no-discord]

Prints, for the command line (the core, rendered as `citebot ask` prints it; streaming and
not) and for Discord (the real bot against the fake Discord, every draft and edit read back):
answers written, partly written and fallen back; statements kept and dropped; quotes and
quoted words shown, and how many of them are not verbatim in a stored sentence (must be 0);
how many of the words the scripted scam and unsupported statements carry were shown (must be
0: `tests.llm_cases.UNSAFE`);
how long each fallback took against the configured timeout (median and worst); and the time
a written answer adds over the quotes-only answer, both measured side by side in one run.
Uses the deterministic test embedder: these are verification and fallback figures, not model
quality.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.render_text import render_answer  # noqa: E402
from config.settings import Settings  # noqa: E402
from retrieval.core import Core  # noqa: E402
from tests.fakellm import FakeLLM  # noqa: E402
from tests.fakes import HashEmbedder  # noqa: E402
from tests.llm_cases import (  # noqa: E402
    ARTICLES,
    CASES,
    Case,
    unsafe_shown,
    unverified_quotes,
)

SHOWN_QUOTES = r"“[^“”]*”|\"[^\"]*\""


def settings_for(data: Path, llm: FakeLLM, timeout: float, stream: bool) -> Settings:
    return Settings(_env_file=None, data_dir=data, min_score=-1.0,  # type: ignore[call-arg]
                    llm_base_url=llm.base_url, llm_model="fake", llm_timeout_s=timeout,
                    llm_passages=10, llm_stream=stream)


def count_quotes(text: str) -> int:
    import re

    return len(re.findall(SHOWN_QUOTES, text))


class Tally:
    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.kept = self.dropped = self.shown = self.unverified = self.unsafe = 0
        self.fallback_s: list[float] = []
        self.extra_s: list[float] = []
        self.mismatches: list[str] = []

    def report(self, label: str, timeout: float) -> None:
        o = self.outcomes
        print(f"{label}: {sum(o.values())} answers: {o['written']} written, {o['partial']} "
              f"partly written (member told), {o['fallback']} fallen back"
              + (f"; statements {self.kept} kept, {self.dropped} dropped"
                 if self.kept else ""))
        print(f"{label}: quotations shown {self.shown}, not verbatim in a stored sentence "
              f"{self.unverified}; unsupported or unsafe words shown {self.unsafe}")
        if self.fallback_s:
            f = sorted(self.fallback_s)
            print(f"{label}: fallbacks: median {statistics.median(f):.2f} s, worst {f[-1]:.2f} s"
                  f" (timeout {timeout:.1f} s; worst/timeout {f[-1] / timeout:.2f})")
        if self.extra_s:
            extra = statistics.median(self.extra_s) * 1000
            print(f"{label}: a written answer added a median {extra:.0f} ms over the "
                  "quotes-only answer (fake model: no thinking time)")
        for m in self.mismatches:
            print(f"{label}: UNEXPECTED {m}")


def outcome(written: Any) -> str:
    if written is None:
        return "fallback"
    return "partial" if written.dropped else "written"


def command_line(runs: int, timeout: float) -> None:
    for stream in (True, False):
        tally = Tally()
        current: list[Case] = []
        with FakeLLM(lambda p, current=current: current[-1].reply(p)) as llm, \
                tempfile.TemporaryDirectory() as tmp:
            core = Core.open(settings_for(Path(tmp), llm, timeout, stream),
                             embedder=HashEmbedder())
            for article in ARTICLES:
                title, _, text = article.partition("\n")
                core.add_text("default", title=title, text=text)
            for _ in range(runs):
                for case in CASES:
                    if case.streaming_only and not stream:
                        continue
                    current.append(case)
                    t0 = time.perf_counter()
                    core.ask("default", case.question)  # quotes only, side by side
                    t1 = time.perf_counter()
                    drafts: list[Any] = []
                    answer = core.ask("default", case.question, write=True,
                                      on_draft=drafts.append)
                    t2 = time.perf_counter()
                    got = outcome(answer.written)
                    tally.outcomes[got] += 1
                    if got != case.expect:
                        tally.mismatches.append(f"{case.name}: {got}, expected {case.expect}")
                    if answer.written is not None:
                        tally.kept += len(answer.written.claims)
                        tally.dropped += len(answer.written.dropped)
                        tally.extra_s.append((t2 - t1) - (t1 - t0))
                    else:
                        tally.fallback_s.append(t2 - t1)
                    for shown in [*drafts, answer]:
                        text = render_answer(shown)
                        tally.shown += count_quotes(text)
                        tally.unverified += len(unverified_quotes(text))
                        tally.unsafe += len(unsafe_shown(text))
            core.close()
        tally.report(f"command line ({'streaming' if stream else 'whole'})", timeout)


async def discord_run(runs: int, timeout: float) -> None:
    import discord  # noqa: TID251 (reads the bot's messages back)

    from bot.discord import render
    from bot.discord.views import VOTE_DOWN, VOTE_UP
    from tests.test_bot_support import GUILD_A, bot_env

    tally = Tally()
    edits = 0
    current: list[Case] = []
    with FakeLLM(lambda p: current[-1].reply(p)) as llm, tempfile.TemporaryDirectory() as tmp:
        options = {"llm_base_url": llm.base_url, "llm_model": "fake", "llm_timeout_s": timeout,
                   "llm_passages": 10, "min_score": -1.0}
        async with bot_env(Path(tmp), **options) as env:
            for article in ARTICLES:
                title, _, text = article.partition("\n")
                await asyncio.to_thread(env.core.indexer.add_text, f"guild-{GUILD_A}",
                                        title=title, text=text)
            for _ in range(runs):
                for case in CASES:
                    current.append(case)
                    t0 = time.perf_counter()
                    rec = await env.slash("ask", {"question": case.question})
                    msg = await env.fake.wait_for(
                        lambda rec=rec: rec.response if rec.response and rec.response.custom_ids
                        == [VOTE_UP, VOTE_DOWN] else None, 30.0, case.name)
                    elapsed = time.perf_counter() - t0
                    edits += len(msg.edits)
                    first = (msg.bodies[-1].get("embeds") or [{}])[0].get("description", "")
                    written = not first.startswith(("> ", render.NOT_FOUND))
                    got = ("partial" if "left out" in first else "written") if written \
                        else "fallback"
                    tally.outcomes[got] += 1
                    if got != case.expect:
                        tally.mismatches.append(f"{case.name}: {got}, expected {case.expect}")
                    if got == "fallback":
                        tally.fallback_s.append(elapsed)
                    for body in msg.bodies:
                        embeds = [discord.Embed.from_dict(e) for e in body.get("embeds") or []]
                        text = render.unsanitize("\n".join(
                            [body.get("content") or "", *(e.description or "" for e in embeds)]))
                        tally.shown += count_quotes(text)
                        tally.unverified += len(unverified_quotes(text))
                        tally.unsafe += len(unsafe_shown(text))
    tally.report("discord (/ask, every draft and edit)", timeout)
    print(f"discord (/ask, every draft and edit): {edits} message versions read back "
          f"(deferred message filled, drafts, final)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=2.0,
                        help="the model timeout (CITEBOT_LLM_TIMEOUT_S) to measure against")
    parser.add_argument("--no-discord", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # each fallback logs its reason; the figures say it here
    print(f"{len(CASES)} scripted cases, {args.runs} runs")
    command_line(args.runs, args.timeout)
    if not args.no_discord:
        asyncio.run(discord_run(args.runs, args.timeout))


if __name__ == "__main__":
    main()
