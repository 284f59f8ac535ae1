"""End to end under load and faults: 429s at every scope, a dropped, reconnected, invalidated
or flapping gateway, a long reindex, a flood of questions, and shutdown. The fault tests print
their figures at the end of the module."""

from __future__ import annotations

import asyncio
import itertools
import statistics
from pathlib import Path
from typing import Any

import pytest

from bot.discord import render
from retrieval.models import Answer
from tests.test_bot_support import (
    ALICE,
    BOB,
    BRIDGE_QUESTION,
    CHANNEL_A,
    CHANNEL_B,
    GUILD_A,
    GUILD_B,
    MANAGER,
    STEP,
    GatedAnswerer,
    SlowEmbedder,
    add_bridge,
    answered,
    assert_no_mentions,
    bot_env,
    bridge_env,
    description,
    figures_fixture,
    mention,
    poll,
    reply_to,
)

QUESTION = BRIDGE_QUESTION
figures = figures_fixture("resilience")


async def test_a_dropped_gateway_connection_resumes(tmp_path: Path) -> None:
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        await fake.drop_connection()
        posted = await fake.message(GUILD_A, CHANNEL_A, BOB,  # replayed on RESUME
                                    f"{fake.bot_mention} what did Patel say?",
                                    mentions=[fake.bot_user_id])
        reply = await fake.wait_for_message(lambda m: bool(m.embeds), STEP)
        assert int(reply.payload["message_reference"]["message_id"]) == posted.id
        assert fake.resume_count == 1 and fake.identify_count == 1
        reply = await (await env.slash("ask", QUESTION)).wait_response(STEP)
        assert "Mayor Dana Reyes" in description(reply)


# -- 429s ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["user", "shared", "global"])
async def test_429s_are_waited_out_at_every_scope(tmp_path: Path, scope: str,
                                                   figures: list[str]) -> None:
    """An answer's followup (interaction webhook) and a mention's reply (the REST client) each
    get one 429; each is retried once, no sooner than retry_after. A global 429 also holds
    back the bot's other requests, to other routes, until it has passed."""
    retry = 0.6
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        await add_bridge(env, GUILD_B)
        followup = fake.inject_429("POST", r"^/webhooks/\d+/[^/]+$", retry_after=retry,
                                   scope=scope)
        reply = await (await env.slash("ask", QUESTION)).wait_response(STEP)
        assert "Mayor Dana Reyes" in description(reply)

        channel = fake.inject_429("POST", rf"^/channels/{CHANNEL_A}/messages$",
                                  retry_after=retry, scope=scope)
        posted = await mention(fake, GUILD_A, CHANNEL_A, BOB, "what did Patel say?")
        await fake.wait_for(lambda: channel.hits or None, STEP, "the 429")
        hit = channel.hits[0]
        await asyncio.sleep(0.1)  # the bot has read the 429; now it must answer elsewhere
        other = await mention(fake, GUILD_B, CHANNEL_B, BOB, "what did Patel say?")
        await reply_to(fake, posted)
        await reply_to(fake, other)

        for rule in (followup, channel):
            assert len(rule.hits) == 1 and len(rule.retries) == 1, rule
            assert rule.retry_delays[0] >= retry, rule.retry_delays
        elsewhere = min(r.at for r in fake.requests if r.path.startswith(f"/channels/{CHANNEL_B}/"))
        held = elsewhere - hit
        if scope == "global":
            assert held >= retry, held  # typing and reply in server B waited for the limit
        else:
            assert held < retry, held  # a route's own limit holds back nothing else
        assert_no_mentions(fake)
    figures.append(
        f"429 {scope:<6} retry_after {retry:.2f} s: followup retried after "
        f"{followup.retry_delays[0]:.3f} s, channel message after {channel.retry_delays[0]:.3f} s; "
        f"first request to another route {held:.3f} s after the 429")


# -- more gateway faults ---------------------------------------------------------------------------


async def test_op7_reconnect_resumes_and_the_bot_answers(tmp_path: Path,
                                                         figures: list[str]) -> None:
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        loop = asyncio.get_running_loop()
        started = loop.time()
        await fake.send_reconnect()
        await fake.wait_for(lambda: fake.resume_count or None, STEP, "a RESUME")
        took = loop.time() - started
        await fake.wait_connected(STEP)
        await answered(env)
        assert fake.identify_count == 1 and fake.resume_count == 1
        assert fake.gateway.connections[0].close_code == 4000  # closed resumably
        assert fake.gateway.connections[-1].path == "/gateway/resume"
    figures.append(f"op 7 RECONNECT: resumed in {took:.2f} s, 1 IDENTIFY in all")


async def test_op9_reidentifies_or_resumes_as_told(tmp_path: Path, figures: list[str]) -> None:
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        await fake.invalidate_session(resumable=True)
        await fake.wait_for(lambda: fake.resume_count == 1 or None, STEP, "a RESUME")
        await fake.wait_connected(STEP)
        await answered(env)
        assert fake.identify_count == 1

        loop = asyncio.get_running_loop()
        started = loop.time()
        await fake.invalidate_session(resumable=False)
        await fake.wait_for(lambda: fake.identify_count == 2 or None, STEP * 2, "an IDENTIFY")
        took = loop.time() - started
        await fake.wait_connected(STEP)
        await answered(env)
        assert fake.resume_count == 1
        assert took >= 5.0  # discord.py spaces IDENTIFYs (Discord allows one per 5 s)
    figures.append(f"op 9 INVALID_SESSION: resumable -> RESUME; not resumable -> new IDENTIFY "
                   f"after {took:.2f} s")


async def test_repeated_drops_resume_each_time_with_growing_pauses(
    tmp_path: Path, figures: list[str]
) -> None:
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        drops = 3
        for i in range(drops):
            await fake.drop_connection()
            await fake.wait_for(lambda i=i: fake.resume_count == i + 1 or None, STEP,
                                "a RESUME")
            await fake.wait_connected(STEP)
        await answered(env)
        conns = fake.gateway.connections
        assert len(conns) == 1 + drops  # one reconnect per drop, no more
        assert fake.identify_count == 1 and fake.resume_count == drops
        gaps = [b.opened_at - a.opened_at for a, b in itertools.pairwise(conns)]
        assert gaps[1] < gaps[2], gaps  # quick successive drops back off
    figures.append(f"{drops} drops in a row: {len(conns) - 1} reconnects, 1 IDENTIFY, gaps "
                   + ", ".join(f"{g:.2f}" for g in gaps) + " s")


async def test_a_flapping_gateway_gets_backoff_not_a_reconnect_storm(
    tmp_path: Path, figures: list[str]
) -> None:
    """A gateway that accepts and at once drops every connection (a broken proxy, an outage)
    must not be hammered: discord.py alone reconnects immediately, over 100 times a second."""
    flap_for = 1.2
    async with bridge_env(tmp_path) as env:
        fake = env.fake
        conns = fake.gateway.connections
        before = len(conns)
        await fake.drop_connection()
        loop = asyncio.get_running_loop()
        until = loop.time() + flap_for
        while (left := until - loop.time()) > 0:  # abort each new connection as it opens
            for conn in conns[before:]:
                if conn.transport is not None and not conn.closed:
                    conn.closed = True
                    conn.transport.abort()  # type: ignore[attr-defined]
            try:
                await fake.wait_for(lambda: any(not c.closed for c in conns[before:]) or None,
                                    left, "a connection")
            except TimeoutError:
                break
        attempts = len(conns) - before
        assert attempts <= 4, attempts
        await fake.wait_for(lambda: fake.resume_count or None, STEP * 2, "a RESUME")
        await fake.wait_connected(STEP)
        await answered(env)
        assert fake.identify_count == 1
    figures.append(f"gateway dropping every connection for {flap_for} s: {attempts} "
                   f"reconnect attempt(s) (discord.py alone: over 100), then resumed and "
                   f"answered")


async def test_reindex_shows_throttled_progress_and_questions_keep_working(
    tmp_path: Path,
) -> None:
    embedder = SlowEmbedder()
    async with bridge_env(tmp_path, embedder=embedder) as env:
        for i in range(6):
            await asyncio.to_thread(env.core.indexer.add_text, f"guild-{GUILD_A}",
                                    title=f"Slowpoke story {i}", text=f"Harbor news item {i}.")
        embedder.delay = 0.4  # each article now takes 0.4 s to re-embed
        rec = await env.slash("reindex", user=ALICE, permissions=MANAGER)
        await env.fake.wait_for(lambda: "Reindexing" in (rec.original.content if rec.original
                                                         else "") or None, STEP)
        second = await env.slash("reindex", user=BOB, permissions=MANAGER)
        refused = await second.wait_response(STEP)
        assert refused.ephemeral and refused.content == render.REINDEX_RUNNING
        asked = await env.slash("ask", QUESTION, user=BOB)
        answer = await asked.wait_response(STEP)
        assert "Mayor Dana Reyes" in description(answer)
        assert "Reindexed" not in rec.original.content  # answered while the rebuild ran
        await env.fake.wait_for(lambda: "Reindexed 7 articles" in rec.original.content or None,
                                STEP * 2)
        edits = [r.at for r in env.fake.requests
                 if r.kind == "webhook_edit" and rec.token in r.path]
        assert len(edits) >= 3
        assert all(b - a >= 0.95 for a, b in itertools.pairwise(edits)), edits
        assert_no_mentions(env.fake)


async def test_fifty_concurrent_questions_are_all_acknowledged_in_time(tmp_path: Path) -> None:
    async with bridge_env(tmp_path) as env:
        users = [990_000_000_000_000_000 + i for i in range(50)]
        recs = await asyncio.gather(*(env.slash("ask", QUESTION, user=u) for u in users))
        replies = await asyncio.gather(*(r.wait_response(STEP * 4) for r in recs))
        acks = sorted(r.ack_latency for r in recs if r.ack_latency is not None)
        answers = sorted(r.response_latency for r in recs if r.response_latency is not None)
        assert len(acks) == len(answers) == 50 and all(r.callback_type == 5 for r in recs)
        assert acks[-1] < 2.0, acks  # Discord allows 3 s
        assert all("Mayor Dana Reyes" in description(m) for m in replies)
        print(f"50 /asks: ack median {statistics.median(acks) * 1000:.0f} ms, worst "
              f"{acks[-1] * 1000:.0f} ms; answer median {statistics.median(answers):.2f} s, "
              f"worst {answers[-1]:.2f} s")


class GuildAGate(GatedAnswerer):
    """Holds every question of server A until the gate opens; others go straight through."""

    def ask(self, collection: str, question: str, **kw: Any) -> Answer:
        if collection == f"guild-{GUILD_A}":
            return super().ask(collection, question, **kw)
        return self.inner.ask(collection, question, **kw)


async def test_one_servers_flood_does_not_slow_another(tmp_path: Path) -> None:
    async with bot_env(tmp_path, min_score=-1.0) as env:
        await add_bridge(env, GUILD_A)
        await add_bridge(env, GUILD_B)
        gate = GuildAGate(env.core.answerer)
        env.core.answerer = gate  # type: ignore[assignment]
        try:
            flood = [await env.slash("ask", QUESTION, user=990_000_000_000_000_100 + i)
                     for i in range(20)]
            await asyncio.gather(*(r.wait_ack(STEP) for r in flood))
            other = await env.slash("ask", QUESTION, guild=GUILD_B)
            reply = await other.wait_response(STEP)
            assert "Mayor Dana Reyes" in description(reply)
            assert all(r.response is None for r in flood)  # server A is still waiting
        finally:
            gate.gate.set()
        await asyncio.gather(*(r.wait_response(STEP) for r in flood))


async def test_shutdown_finishes_in_flight_work_and_refuses_new(tmp_path: Path) -> None:
    async with bridge_env(tmp_path, shutdown_grace_s=10.0) as env:
        gate = GatedAnswerer(env.core.answerer)
        env.core.answerer = gate  # type: ignore[assignment]
        in_flight = await env.slash("ask", QUESTION)
        assert await asyncio.to_thread(gate.entered.acquire, True, STEP)
        env.bot.begin_shutdown()
        late = await env.slash("ask", QUESTION, user=BOB)
        refused = await late.wait_response(STEP)
        assert refused.ephemeral and refused.content == render.SHUTTING_DOWN
        assert not env.bot.is_closed()
        gate.gate.set()
        reply = await in_flight.wait_response(STEP)
        assert "Mayor Dana Reyes" in description(reply)
        await poll(env.bot.is_closed)
        await env.fake.wait_for(lambda: not env.fake.connected or None, STEP)


async def test_shutdown_abandons_work_past_the_deadline(tmp_path: Path) -> None:
    async with bot_env(tmp_path, shutdown_grace_s=0.3) as env:
        gate = GatedAnswerer(env.core.answerer)
        env.core.answerer = gate  # type: ignore[assignment]
        stuck = await env.slash("ask", QUESTION)
        assert await asyncio.to_thread(gate.entered.acquire, True, STEP)
        loop = asyncio.get_running_loop()
        started = loop.time()
        env.bot.begin_shutdown()
        await poll(env.bot.is_closed)
        assert loop.time() - started < 2.0
        assert stuck.response is None and stuck.deferred
        gate.gate.set()


async def test_shutdown_during_a_reindex_stops_the_rebuild(tmp_path: Path) -> None:
    embedder = SlowEmbedder()
    async with bot_env(tmp_path, embedder=embedder, shutdown_grace_s=0.2) as env:
        for i in range(20):
            await asyncio.to_thread(env.core.indexer.add_text, f"guild-{GUILD_A}",
                                    title=f"Slowpoke story {i}", text=f"Harbor news item {i}.")
        embedder.delay = 0.2  # 4 s of work in all
        await env.slash("reindex", user=ALICE, permissions=MANAGER)
        await poll(lambda: env.bot.worker.busy)
        env.bot.begin_shutdown()
        await poll(env.bot.is_closed)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await asyncio.to_thread(env.bot.worker.close, STEP)  # the rebuild gave up
        assert loop.time() - started < 1.0
        assert env.core.answerer.ask(f"guild-{GUILD_A}", "harbor news item 3").passages
