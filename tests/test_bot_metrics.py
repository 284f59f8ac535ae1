"""The health and metrics endpoint of `citebot run` (CITEBOT_METRICS_ADDRESS), read over HTTP
the way a scraper or a health check does while the fake Discord asks, votes, adds and drops
the gateway."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.discord.views import VOTE_DOWN, VOTE_UP
from bot.discord.work import Worker
from retrieval.core import Core
from tests.fakediscord import point_discord_at
from tests.fakes import HashEmbedder
from tests.test_bot_support import (
    BOB,
    BRIDGE,
    BRIDGE_QUESTION,
    CAROL,
    CHANNEL_A,
    GUILD_A,
    GUILD_B,
    STEP,
    Env,
    GatedAnswerer,
    bot_env,
    description,
    figures_fixture,
    make_fake,
    make_settings,
    mention,
    poll,
    reply_to,
    running,
)

figures = figures_fixture("metrics")
ENDPOINT = "127.0.0.1:0"  # any free port; the bot says which it bound


async def get(env: Env, path: str) -> tuple[int, str]:
    """GET http://127.0.0.1:PORT/path from the bot's endpoint: (status, body)."""
    assert env.bot.health is not None
    url = f"http://127.0.0.1:{env.bot.health.port}{path}"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def scrape(env: Env) -> dict[str, float]:
    """Every sample of /metrics, by name and labels: {'citebot_votes_total{vote="up"}': 1}."""
    status, text = await get(env, "/metrics")
    assert status == 200
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def moved(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """The samples that changed, by how much (histogram buckets left out)."""
    return {name: after[name] - before.get(name, 0.0) for name in after
            if after[name] != before.get(name, 0.0) and "_bucket{" not in name
            and not name.endswith("_created") and "_created{" not in name}


async def wait_health(env: Env, status: int, timeout: float = STEP * 2) -> str:
    """Poll /healthz (bounded) until it answers `status`; its body."""
    deadline = time.monotonic() + timeout
    while True:
        got, body = await get(env, "/healthz")
        if got == status:
            return body
        if time.monotonic() > deadline:
            raise TimeoutError(f"/healthz stayed {got} ({body.strip()}), not {status}")
        await asyncio.sleep(0.05)


async def test_metrics_move_while_members_ask_vote_and_add(tmp_path: Path) -> None:
    async with bot_env(tmp_path, min_score=-1.0, metrics_address=ENDPOINT) as env:
        start = await scrape(env)
        assert start['citebot_questions_total{via="slash"}'] == 0
        assert start["citebot_gateway_connected"] == 1

        title, _, text = BRIDGE.partition("\n")
        await env.add_text(title, text)
        answer = await (await env.slash("ask", BRIDGE_QUESTION)).wait_response(STEP)
        assert "Mayor Dana Reyes" in description(answer)
        await (await env.fake.click(answer.id, VOTE_UP, user_id=CAROL)).wait_response(STEP)
        await (await env.fake.click(answer.id, VOTE_DOWN, user_id=BOB)).wait_response(STEP)
        posted = await mention(env.fake, GUILD_A, CHANNEL_A, CAROL, "what did Patel say?")
        await reply_to(env.fake, posted)
        nothing = await (await env.slash("ask", BRIDGE_QUESTION, guild=GUILD_B)).wait_response(
            STEP)
        assert "Mayor Dana Reyes" not in description(nothing) + nothing.content

        change = moved(start, await scrape(env))
    assert change['citebot_questions_total{via="slash"}'] == 2
    assert change['citebot_questions_total{via="message"}'] == 1
    assert change['citebot_questions_not_found_total{via="slash"}'] == 1
    assert 'citebot_questions_not_found_total{via="message"}' not in change
    assert change['citebot_answer_seconds_count{via="slash"}'] == 2
    assert change['citebot_answer_seconds_sum{via="slash"}'] > 0
    assert change['citebot_votes_total{vote="up"}'] == 1
    assert change['citebot_votes_total{vote="down"}'] == 1
    assert change['citebot_articles_added_total{status="added",via="command"}'] == 1
    assert "citebot_gateway_reconnects_total" not in change


async def test_health_turns_unhealthy_without_the_gateway_and_back_after(
        tmp_path: Path, figures: list[str]) -> None:
    async with bot_env(tmp_path, metrics_address=ENDPOINT) as env:
        assert await wait_health(env, 200) == "ok\n"
        fake = env.fake
        fake.refuse_gateway(3, how="http")  # the reconnects fail for a while
        lost = time.monotonic()
        await fake.drop_connection()
        said = await wait_health(env, 503)
        assert said == "the Discord gateway is not connected\n"
        status, body = await get(env, "/healthz?format=json")
        assert status == 503 and json.loads(body) == {
            "healthy": False, "problems": ["the Discord gateway is not connected"]}
        assert (await scrape(env))["citebot_gateway_connected"] == 0

        await wait_health(env, 200, timeout=STEP * 6)  # discord.py's backoff and ours
        back = time.monotonic() - lost
        assert len(fake.gateway.refused) == 3
        samples = await scrape(env)
        assert samples["citebot_gateway_reconnects_total"] == 1
        assert samples["citebot_gateway_connected"] == 1
    figures.append(f"gateway dropped, 3 reconnects refused: /healthz 503 until it was back, "
                   f"healthy again {back:.2f} s after the drop")


async def test_health_says_when_the_store_cannot_be_read(tmp_path: Path) -> None:
    async with bot_env(tmp_path, metrics_address=ENDPOINT) as env:
        await wait_health(env, 200)
        env.core.storage.close()  # its connections; the next read opens the file again
        shutil.rmtree(env.settings.data_dir)  # which is gone
        said = await wait_health(env, 503)
        assert said.startswith("the store cannot be read ("), said


async def test_an_address_in_use_is_refused_with_what_to_do(tmp_path: Path) -> None:
    from bot.discord.health import EndpointError

    async with bot_env(tmp_path, metrics_address=ENDPOINT) as env:
        assert env.bot.health is not None
        taken = f"127.0.0.1:{env.bot.health.port}"
        with pytest.raises(EndpointError, match="free that port or change "
                           "CITEBOT_METRICS_ADDRESS"):
            async with bot_env(tmp_path / "other", metrics_address=taken):
                pass


async def test_no_endpoint_unless_asked(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        assert env.bot.health is None


async def health_check(address: str) -> tuple[int, str]:
    """The Docker image's HEALTHCHECK command, run as the image runs it: (exit code, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env["CITEBOT_METRICS_ADDRESS"] = address
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.discord.healthcheck", env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), STEP * 4)
    assert proc.returncode is not None
    return proc.returncode, out.decode().strip()


async def test_the_image_health_check_follows_healthz(tmp_path: Path) -> None:
    async with bot_env(tmp_path, metrics_address=ENDPOINT) as env:
        assert env.bot.health is not None
        address = f"0.0.0.0:{env.bot.health.port}"  # as in the image: asked over loopback
        assert await health_check(address) == (0, "ok")
        env.fake.refuse_gateway(1000, how="http")
        await env.fake.drop_connection()
        await wait_health(env, 503)
        assert await health_check(address) == (1, "the Discord gateway is not connected")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    code, said = await health_check(f"127.0.0.1:{free}")
    assert code == 1 and said.startswith(f"nothing answered at http://127.0.0.1:{free}/healthz")
    code, said = await health_check("")
    assert code == 1 and "set it, e.g. CITEBOT_METRICS_ADDRESS=127.0.0.1:9108" in said


async def test_a_sharded_bot_is_healthy_only_with_every_shard_connected(
        tmp_path: Path) -> None:
    """One process serving both shards: two first connections are no reconnect; one shard
    lost is enough to be unhealthy."""
    async with make_fake() as fake:
        with point_discord_at(fake.api_base, fake.gateway_url):
            settings = make_settings(tmp_path / "data", shard_count=2,
                                     metrics_address=ENDPOINT)
            core = Core.open(settings, embedder=HashEmbedder())
            try:
                async with running(core, settings, ready_within=3 * STEP) as bot:  # IDENTIFYs
                    env = Env(fake, bot, core, settings)  # are 5 s apart
                    assert await wait_health(env, 200) == "ok\n"
                    assert (await scrape(env))["citebot_gateway_reconnects_total"] == 0
                    fake.refuse_gateway(2, how="http")
                    await fake.drop_connection()  # one shard's
                    assert await wait_health(env, 503) == \
                        "the Discord gateway is not connected\n"
                    await wait_health(env, 200, timeout=STEP * 4)
                    assert (await scrape(env))["citebot_gateway_reconnects_total"] == 1
            finally:
                core.close()


async def test_health_says_when_the_worker_is_stuck(tmp_path: Path) -> None:
    """One thread, held by an answer that does not return; another server's question waits
    for it. On the worker's clock, past CITEBOT_HEALTH_STUCK_S, /healthz says so; once the
    answer returns, all is well again."""
    now = [0.0]
    worker = Worker(threads=1, per_server=1, clock=lambda: now[0])
    async with make_fake() as fake:
        with point_discord_at(fake.api_base, fake.gateway_url):
            settings = make_settings(tmp_path / "data", metrics_address=ENDPOINT,
                                     health_stuck_s=60.0)
            core = Core.open(settings, embedder=HashEmbedder())
            try:
                async with running(core, settings, worker=worker) as bot:
                    env = Env(fake, bot, core, settings)
                    gate = GatedAnswerer(core.answerer)
                    core.answerer = gate  # type: ignore[assignment]
                    held = await env.slash("ask", BRIDGE_QUESTION)
                    assert await asyncio.to_thread(gate.entered.acquire, True, STEP)
                    waiting = await env.slash("ask", BRIDGE_QUESTION, guild=GUILD_B)
                    await poll(lambda: worker.queued == 1)
                    assert await wait_health(env, 200) == "ok\n"
                    now[0] = 61.0
                    said = await wait_health(env, 503)
                    assert said == ("the worker is stuck: a core call has waited 61 s for a "
                                    "thread and none finished meanwhile\n")
                    gate.gate.set()
                    await held.wait_response(STEP)
                    await waiting.wait_response(STEP)
                    assert await wait_health(env, 200) == "ok\n"
            finally:
                core.close()
