"""`citebot run` as a real process, configured only through the environment: it logs in,
syncs, answers /add and /ask (and counts them on /metrics), exits 0 on SIGTERM, and never
prints its token or an interaction's, even at DEBUG."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.discord import app
from config.settings import Settings
from tests.test_bot_support import ALICE, BRIDGE, CHANNEL_A, GUILD_A, TOKEN, make_fake

STARTUP = 90.0  # imports and the real model, on a slow machine
STEP = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_citebot_run_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    async with make_fake() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
        env.update({
            "CITEBOT_DISCORD_TOKEN": TOKEN,
            "CITEBOT_DISCORD_API_BASE": fake.api_base,
            "CITEBOT_DISCORD_GATEWAY_URL": fake.gateway_url,
            "CITEBOT_DATA_DIR": str(tmp_path / "data"),
            "CITEBOT_DEV_GUILD_ID": str(GUILD_A),
            "CITEBOT_MODEL_CACHE_DIR": os.environ["CITEBOT_MODEL_CACHE_DIR"],  # one ONNX export
            "CITEBOT_METRICS_ADDRESS": str(port),
        })
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "-vv", "run", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        assert proc.stdout is not None
        output = asyncio.create_task(proc.stdout.read())
        try:
            await fake.wait_for(lambda: fake.command_syncs or None, STARTUP, "a command sync")
            await fake.wait_connected(STEP)
            assert [guild for guild, _ in fake.command_syncs] == [GUILD_A]
            title, _, text = BRIDGE.partition("\n")
            added = await fake.slash(GUILD_A, CHANNEL_A, ALICE, "add text",
                                     {"title": title, "text": text})
            assert (await added.wait_response(STEP)).content.startswith(f"Added: **{title}**")
            asked = await fake.slash(GUILD_A, CHANNEL_A, ALICE, "ask",
                                     {"question": "What did Mayor Reyes say about the bridge?"})
            reply = await asked.wait_response(STEP)
            assert "This bridge connects two halves of a city" in reply.embeds[0]["description"]
            assert await get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
            status, metrics = await get(f"http://127.0.0.1:{port}/metrics")
            assert status == 200 and 'citebot_questions_total{via="slash"} 1.0' in metrics
            assert 'citebot_articles_added_total{status="added",via="command"} 1.0' in metrics
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), STEP)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        log = (await output).decode(errors="replace")
    assert code == 0, log[-3000:]
    assert TOKEN not in log
    tokens = [rec.token for rec in fake.interactions.values()]
    assert len(tokens) == 2 and not [t for t in tokens if t in log]  # nor interaction tokens
    assert "[redacted token]" in log  # they were logged (webhook URLs, gateway events) and hidden
    assert "synced 11 commands to the dev server" in log and "shutting down" in log
    assert "discord.http" in log  # debug logging was on, and still no token


def test_run_without_a_token_says_so_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert app.run(Settings(_env_file=None)) == 2  # type: ignore[call-arg]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CITEBOT_DISCORD_TOKEN is not set" in err
