"""Two `citebot run` processes with disjoint shards serve one application against one store
(the embedded data directory, or one PostgreSQL database), through the fake Discord, which
assigns servers to shards as Discord does: each server's questions are answered exactly once,
by the process whose shard holds that server, and the commands are synced once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.fakediscord import FakeDiscord, InteractionRecord, shard_of
from tests.postgres import PostgresServer
from tests.test_bot_support import (
    ALICE,
    BRIDGE,
    CHANNEL_A,
    CHANNEL_B,
    GUILD_A,
    GUILD_B,
    TOKEN,
    make_fake,
)

psutil = pytest.importorskip("psutil")

STARTUP = 180.0  # two processes importing and loading the real model on a shared machine
STEP = 30.0
SHARDS = 2

HARBOR = """Port Averly approves flood barrier

The Port Averly city council voted 7-2 on Tuesday to build a retractable flood barrier.

"We cannot ask families to rebuild in the same place and hope the water stays away," Mayor Lucia Ortiz said after the vote.
"""  # noqa: E501

#: server -> (its channel, an article for it, a question that article answers, the answer)
SERVERS = {
    GUILD_A: (CHANNEL_A, BRIDGE, "What did Mayor Reyes say about the bridge?",
              "This bridge connects two halves of a city"),
    GUILD_B: (CHANNEL_B, HARBOR, "What did Mayor Ortiz say after the vote?",
              "We cannot ask families to rebuild"),
}


def test_the_servers_of_the_test_fall_on_different_shards() -> None:
    assert shard_of(GUILD_A, SHARDS) == 0 and shard_of(GUILD_B, SHARDS) == 1


async def _start(fake: FakeDiscord, data_dir: Path, cwd: Path, shard: int,
                 database_url: str | None = None) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env.update({
        "CITEBOT_DISCORD_TOKEN": TOKEN,
        "CITEBOT_DISCORD_API_BASE": fake.api_base,
        "CITEBOT_DISCORD_GATEWAY_URL": fake.gateway_url,
        "CITEBOT_DATA_DIR": str(data_dir),  # one store for both processes
        "CITEBOT_DEV_GUILD_ID": str(GUILD_A),
        "CITEBOT_ASK_COOLDOWN_S": "0",
        "CITEBOT_MODEL_CACHE_DIR": os.environ["CITEBOT_MODEL_CACHE_DIR"],  # one ONNX export
    })
    if database_url:  # one PostgreSQL database for both processes instead
        env["CITEBOT_DATABASE_URL"] = database_url
    if shard >= 0:  # else unsharded
        env.update({"CITEBOT_SHARD_COUNT": str(SHARDS), "CITEBOT_SHARD_IDS": str(shard)})
    cwd.mkdir()
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "-v", "run", cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)


def _owner(port: int | None, procs: dict[int, asyncio.subprocess.Process]) -> int | None:
    """The shard whose process holds the local end of a connection from `port`."""
    for shard, proc in procs.items():
        ports = {c.laddr.port for c in psutil.Process(proc.pid).net_connections("tcp")}
        if port in ports:
            return shard
    return None


def _callbacks(fake: FakeDiscord, rec: InteractionRecord) -> list[int | None]:
    """The client port of every callback the bots made to one interaction."""
    return [r.peer_port for r in fake.requests
            if r.path.startswith(f"/interactions/{rec.id}/") and r.path.endswith("/callback")]


async def _ask_and_check(fake: FakeDiscord, procs: dict[int, asyncio.subprocess.Process],
                         guild: int) -> None:
    channel, article, question, answer = SERVERS[guild]
    title, _, text = article.partition("\n")
    added = await fake.slash(guild, channel, ALICE, "add text", {"title": title, "text": text})
    assert (await added.wait_response(STEP)).content.startswith(f"Added: **{title}**")
    asked = await fake.slash(guild, channel, ALICE, "ask", {"question": question})
    reply = await asked.wait_response(STEP)
    ports = _callbacks(fake, asked)
    owners = [_owner(port, procs) for port in ports]  # at once, while the connection lives
    assert answer in reply.embeds[0]["description"]
    assert owners == [shard_of(guild, SHARDS)], (ports, owners)  # one answer, the right one
    for shard, session in fake.shard_sessions().items():  # the event went to that shard only
        got = [f for f in session.log if f["t"] == "INTERACTION_CREATE"
               and f["d"]["id"] == str(asked.id)]
        assert len(got) == (shard == shard_of(guild, SHARDS))


@pytest.mark.parametrize("backend", ["embedded", "postgres"])
async def test_two_shard_processes_answer_each_server_once(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest,
) -> None:
    database_url = None
    if backend == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        database_url = server.new_database()
    async with make_fake() as fake:
        procs: dict[int, asyncio.subprocess.Process] = {}
        outputs: dict[int, asyncio.Task[bytes]] = {}
        try:
            for shard in range(SHARDS):
                procs[shard] = await _start(fake, tmp_path / "data", tmp_path / f"p{shard}",
                                            shard, database_url)
                assert procs[shard].stdout is not None
                outputs[shard] = asyncio.create_task(procs[shard].stdout.read())

            def both_connected() -> bool | None:
                sessions = fake.shard_sessions()
                live = all(s.conn is not None for s in sessions.values())
                return True if sorted(sessions) == [0, 1] and live else None

            await fake.wait_for(both_connected, STARTUP, "both shards connected")
            await fake.wait_for(lambda: fake.command_syncs or None, STEP, "a command sync")
            sessions = fake.shard_sessions()
            assert {i: s.shard for i, s in sessions.items()} == {0: (0, 2), 1: (1, 2)}
            for guild in SERVERS:
                await _ask_and_check(fake, procs, guild)
            for proc in procs.values():
                proc.send_signal(signal.SIGTERM)
            codes = [await asyncio.wait_for(p.wait(), STEP) for p in procs.values()]
        finally:
            for proc in procs.values():
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        logs = {shard: (await out).decode(errors="replace") for shard, out in outputs.items()}
    assert codes == [0, 0], logs
    assert [guild for guild, _ in fake.command_syncs] == [GUILD_A]  # once, by shard 0's process
    assert "synced 11 commands to the dev server" in logs[0]
    assert "commands are synced by the process serving shard 0" in logs[1]
    if database_url:  # both processes kept their articles in the one PostgreSQL database
        import psycopg

        with psycopg.connect(database_url) as db:
            row = db.execute("SELECT count(*) FROM articles").fetchone()
        assert row is not None and row[0] == len(SERVERS)


async def test_a_bot_past_discords_limit_is_told_to_shard(tmp_path: Path) -> None:
    """Discord closes an unsharded connection holding too many servers with 4011: `citebot
    run` exits 1 with one line naming the setting, no traceback."""
    async with make_fake(max_guilds_per_shard=1) as fake:
        proc = await _start(fake, tmp_path / "data", tmp_path / "run", shard=-1)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), STARTUP)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    shown = out.decode(errors="replace")
    assert proc.returncode == 1, shown[-3000:]
    said = [line for line in shown.splitlines() if line.startswith("citebot: ")]
    assert len(said) == 1 and "closed the gateway connection with code 4011" in said[0] and \
        "Discord requires sharding for a bot in this many servers: set CITEBOT_SHARD_COUNT" \
        in said[0], shown[-3000:]
    assert "Traceback" not in shown, shown[-3000:]
