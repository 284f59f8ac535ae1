"""Bot shard figures for docs/SCALING.md: servers of one application answered by one unsharded
`citebot run`, then by two shard processes on one store, side by side in one run, through the
project's fake Discord on 127.0.0.1.

    .venv/bin/python benchmarks/shards.py [--servers 8] [--questions 4]

Prints, for each layout: questions asked, answered exactly once, answered by the process
holding the server's shard, unanswered, answered more than once, command syncs; seconds from
start until every shard connected; median and p90 seconds from a question to its answer, and
the ratio of the medians. The processes load the real model; on a machine with few cores,
two processes compete for them, so the latencies say what sharding costs, not what it gains
(it exists for Discord's limit on servers per connection, and for spreading processes over
machines).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakediscord import (  # noqa: E402
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeUser,
    InteractionRecord,
    shard_of,
)

TOKEN = "benchmark-token"
ALICE = 930_000_000_000_000_001
STARTUP = 300.0
STEP = 120.0
ARTICLE = ("Officials open new bridge after years of delay",
           "The Marlow river bridge opened to traffic on Monday, four years later than planned."
           "\n\n\"This bridge connects two halves of a city that have been apart for too long,\" "
           "Mayor Dana Reyes said at the ribbon cutting.")
QUESTION = "What did Mayor Reyes say about the bridge?"


@dataclass
class Layout:
    name: str
    shard_count: int | None  # None: one unsharded process
    started: float = 0.0
    connected_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    once: int = 0
    right: int = 0
    missing: int = 0
    twice: int = 0
    syncs: int = 0


def servers(count: int) -> list[FakeGuild]:
    """Servers whose shards alternate (shard = (id >> 22) % 2)."""
    base = 217_000_000_000  # a timestamp part like a real server id's
    users = [FakeUser(ALICE, "alice")]
    guilds = []
    for i in range(count):
        guild_id = ((base + i) << 22) | 1
        guilds.append(FakeGuild(guild_id, f"server {i}",
                                channels=[FakeChannel(guild_id + 1, "news")], members=users))
    return guilds


async def start(fake: FakeDiscord, data: Path, cache: Path, layout: Layout,
                shard: int | None) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env.update({"CITEBOT_DISCORD_TOKEN": TOKEN, "CITEBOT_DISCORD_API_BASE": fake.api_base,
                "CITEBOT_DISCORD_GATEWAY_URL": fake.gateway_url, "CITEBOT_DATA_DIR": str(data),
                "CITEBOT_MODEL_CACHE_DIR": str(cache), "CITEBOT_ASK_COOLDOWN_S": "0",
                "CITEBOT_DEV_GUILD_ID": str(next(iter(fake.guilds))),
                "PYTHONPATH": str(ROOT)})
    if shard is not None:
        env.update({"CITEBOT_SHARD_COUNT": str(layout.shard_count),
                    "CITEBOT_SHARD_IDS": str(shard)})
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=data.parent, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


def owner(port: int | None, procs: dict[int, asyncio.subprocess.Process]) -> int | None:
    for shard, proc in procs.items():
        if port in {c.laddr.port for c in psutil.Process(proc.pid).net_connections("tcp")}:
            return shard
    return None


async def ask(fake: FakeDiscord, guild: FakeGuild, procs: dict[int, asyncio.subprocess.Process],
              layout: Layout) -> None:
    rec: InteractionRecord = await fake.slash(guild.id, guild.channels[0].id, ALICE, "ask",
                                              {"question": QUESTION})
    try:
        await rec.wait_response(STEP)
    except TimeoutError:
        layout.missing += 1
        return
    calls = [r.peer_port for r in fake.requests
             if r.path.startswith(f"/interactions/{rec.id}/") and r.path.endswith("/callback")]
    owners = [owner(port, procs) for port in calls]
    if rec.response_latency is not None:
        layout.latencies.append(rec.response_latency)
    if len(calls) == 1:
        layout.once += 1
    else:
        layout.twice += 1
    expected = 0 if layout.shard_count is None else shard_of(guild.id, layout.shard_count)
    layout.right += owners == [expected]


async def measure(layout: Layout, guilds: list[FakeGuild], questions: int, cache: Path,
                  work: Path) -> None:
    async with FakeDiscord(token=TOKEN, guilds=guilds) as fake:
        data = work / layout.name / "data"
        data.parent.mkdir(parents=True)
        shards = [None] if layout.shard_count is None else list(range(layout.shard_count))
        procs: dict[int, asyncio.subprocess.Process] = {}
        layout.started = time.monotonic()
        try:
            for shard in shards:
                procs[shard or 0] = await start(fake, data, cache, layout, shard)

            def connected() -> bool | None:
                sessions = fake.shard_sessions()
                live = len(sessions) == len(shards) and all(
                    s.conn is not None for s in sessions.values())
                return True if live and fake.command_syncs else None

            await fake.wait_for(connected, STARTUP, "every shard connected")
            layout.connected_s = time.monotonic() - layout.started
            for guild in guilds:
                added = await fake.slash(guild.id, guild.channels[0].id, ALICE, "add text",
                                         {"title": ARTICLE[0], "text": ARTICLE[1]})
                await added.wait_response(STEP)
            for _ in range(questions):
                await asyncio.gather(*(ask(fake, guild, procs, layout) for guild in guilds))
            layout.syncs = len(fake.command_syncs)
        finally:
            for proc in procs.values():
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs.values():
                try:
                    await asyncio.wait_for(proc.wait(), STEP)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def warm(cache: Path, work: Path) -> None:
    """Export the model to ONNX once, before anything is timed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env.update({"CITEBOT_DATA_DIR": str(work / "warm"), "CITEBOT_MODEL_CACHE_DIR": str(cache),
                "PYTHONPATH": str(ROOT)})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "ask", "warming up", cwd=work, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await proc.wait()


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=8)
    parser.add_argument("--questions", type=int, default=4, help="questions per server")
    args = parser.parse_args()
    guilds = servers(args.servers)
    layouts = [Layout("one process", None), Layout("two shard processes", 2)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cache = work / "model-cache"
        await warm(cache, work)
        for layout in layouts:
            await measure(layout, guilds, args.questions, cache, work)
    asked = args.servers * args.questions
    print(f"{args.servers} servers x {args.questions} questions = {asked} questions per layout")
    print(f"{'layout':<22}{'once':>6}{'right':>7}{'missed':>8}{'twice':>7}{'syncs':>7}"
          f"{'start s':>9}{'median s':>10}{'p90 s':>8}")
    for layout in layouts:
        median = statistics.median(layout.latencies) if layout.latencies else float("nan")
        tail = p90(layout.latencies) if layout.latencies else float("nan")
        print(f"{layout.name:<22}{layout.once:>6}{layout.right:>7}{layout.missing:>8}"
              f"{layout.twice:>7}{layout.syncs:>7}{layout.connected_s:>9.1f}{median:>10.3f}"
              f"{tail:>8.3f}")
    one, two = (statistics.median(x.latencies) for x in layouts)
    print(f"median answer time, two shard processes / one process: {two / one:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
