"""End-to-end proof that a real discord.py client works against tests/fakediscord.

A tiny `commands.Bot` logs in, syncs, answers slash commands, autocomplete and a button, waits
out 429s, resumes after a dropped connection and re-identifies after an invalidated session.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands

from tests.fakediscord import (
    MEMBER_PERMISSIONS,
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeUser,
    connected,
    loopback_only_trace,
    point_discord_at,
)

TOKEN = "fake-token-for-tests"
GUILD_ID = 900_000_000_000_000_001
CHANNEL_ID = 900_000_000_000_000_002
USER_ID = 900_000_000_000_000_003
FRUITS = ["apple", "banana", "blueberry", "cherry"]
MANAGE_GUILD = 1 << 5
STEP = 5.0  # upper bound for any single wait in these tests


# -- the tiny bot --------------------------------------------------------------------------


class CounterView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.count = 0

    @discord.ui.button(label="Count", custom_id="count")
    async def press(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.count += 1
        interaction.client.clicks.append(interaction.user.id)  # type: ignore[attr-defined]
        await interaction.response.edit_message(content=f"count {self.count}", view=self)


@app_commands.command(description="Defer, then answer in a followup.")
async def ping(interaction: discord.Interaction) -> None:
    await interaction.response.defer(thinking=True)
    await interaction.followup.send("pong")


@app_commands.command(description="Pick a fruit.")
async def fruit(interaction: discord.Interaction, name: str) -> None:
    await interaction.response.send_message(f"you picked {name}")


@fruit.autocomplete("name")
async def fruit_names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice]:
    return [app_commands.Choice(name=f, value=f) for f in FRUITS if f.startswith(current)]


@app_commands.command(description="A message with a button.")
async def counter(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("count 0", view=CounterView())


@app_commands.command(description="Read an attached text file.")
async def readfile(interaction: discord.Interaction, doc: discord.Attachment) -> None:
    text = (await doc.read()).decode()
    await interaction.response.send_message(f"{doc.filename} ({doc.size} bytes): {text}")


quote = app_commands.Group(name="quote", description="Quotes.")


@quote.command(name="search", description="A subcommand with typed options.")
async def quote_search(interaction: discord.Interaction, query: str, limit: int = 3) -> None:
    await interaction.response.send_message(f"search {query!r} limit={limit!r}")


async def quote_message(interaction: discord.Interaction, message: discord.Message) -> None:
    await interaction.response.send_message(f"quoting: {message.content}", ephemeral=True)


@app_commands.command(description="Needs Manage Server.")
@app_commands.checks.has_permissions(manage_guild=True)
async def reindex(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("reindexing")


@app_commands.command(description="Too slow to acknowledge.")
async def slow(interaction: discord.Interaction) -> None:
    await asyncio.sleep(0.3)
    try:
        await interaction.response.send_message("late")
    except discord.NotFound as exc:
        interaction.client.errors.append(exc.code)  # type: ignore[attr-defined]


class TinyBot(commands.Bot):
    def __init__(self, *, intents: discord.Intents | None = None) -> None:
        self.urls: list[str] = []
        super().__init__(
            command_prefix="!",
            intents=intents or discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=0.05,
            http_trace=loopback_only_trace(self.urls),
        )
        self.clicks: list[int] = []
        self.errors: list[int] = []
        self.seen: asyncio.Queue[discord.Message] = asyncio.Queue()

    async def setup_hook(self) -> None:
        guild = discord.Object(GUILD_ID)
        menu = app_commands.ContextMenu(name="Quote message", callback=quote_message)
        for command in (ping, fruit, counter, readfile, quote, reindex, slow, menu):
            self.tree.add_command(command, guild=guild)
        self.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]
        await self.tree.sync(guild=guild)

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        if not isinstance(error, app_commands.MissingPermissions):
            raise error
        await interaction.response.send_message("You need Manage Server.", ephemeral=True)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None  # discord.py sleeps 5 s before every non-initial IDENTIFY

    async def on_message(self, message: discord.Message) -> None:
        if message.author.id == self.user.id:  # type: ignore[union-attr]
            return
        self.seen.put_nowait(message)
        if self.user in message.mentions:
            await message.channel.send(f"hello {message.author.name}")


# -- fixtures ------------------------------------------------------------------------------


def make_fake(**kwargs: Any) -> FakeDiscord:
    guild = FakeGuild(
        GUILD_ID,
        "Newsroom",
        channels=[FakeChannel(CHANNEL_ID, "news")],
        members=[FakeUser(USER_ID, "reader")],
    )
    return FakeDiscord(token=TOKEN, guilds=[guild], **kwargs)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with make_fake() as server:
        with point_discord_at(server.api_base, server.gateway_url):
            yield server


def running(bot: TinyBot, token: str = TOKEN) -> AbstractAsyncContextManager[TinyBot]:
    """Log in, connect and wait for on_ready; always close the bot and reap its task."""
    return connected(bot, token, step=STEP)


@pytest_asyncio.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[TinyBot]:
    async with running(TinyBot()) as client:
        yield client


def assert_no_mentions_allowed(fake: FakeDiscord) -> None:
    bodies = fake.message_bodies()
    assert bodies, "the bot sent no message bodies"
    for body in bodies:
        assert body.get("allowed_mentions") == {"parse": []}, body


# -- login, sync, commands -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_login_ready_and_guild_sync(fake: FakeDiscord, bot: TinyBot) -> None:
    assert bot.user is not None and bot.user.id == fake.bot_user_id
    assert bot.application_id == fake.application_id
    assert [syncs[0] for syncs in fake.command_syncs] == [GUILD_ID]
    synced = {(c["name"], c["type"]) for c in fake.commands[GUILD_ID]}
    slash_names = {"ping", "fruit", "counter", "readfile", "quote", "reindex", "slow"}
    assert synced == {(n, 1) for n in slash_names} | {("Quote message", 3)}
    guild = bot.get_guild(GUILD_ID)
    assert guild is not None and guild.name == "Newsroom"
    assert [c.name for c in guild.text_channels] == ["news"]
    assert guild.member_count == 2 and guild.get_member(USER_ID) is None  # no members intent
    assert fake.identify_count == 1 and fake.resume_count == 0
    conn = fake.gateway.connections[0]
    assert conn.compression == discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE
    assert bot.urls and all(
        u.startswith(("http://127.0.0.1:", "ws://127.0.0.1:")) for u in bot.urls
    )
    assert not fake.unhandled


@pytest.mark.asyncio
async def test_ping_defers_then_followup_fills_original(fake: FakeDiscord, bot: TinyBot) -> None:
    rec = await fake.slash(GUILD_ID, CHANNEL_ID, USER_ID, "ping")
    latency = await rec.wait_ack(STEP)
    assert rec.callback_type == 5 and 0 <= latency < STEP
    reply = await rec.wait_response(STEP)
    assert reply.content == "pong" and not reply.loading
    assert reply is rec.original and rec.followups == []
    assert rec.responded_at is not None and rec.acked_at is not None
    assert rec.injected_at <= rec.acked_at <= rec.responded_at
    assert [r.kind for r in fake.outbound if r.kind in ("callback", "followup")] == [
        "callback",
        "followup",
    ]
    assert_no_mentions_allowed(fake)


@pytest.mark.asyncio
async def test_autocomplete_returns_matching_choices(fake: FakeDiscord, bot: TinyBot) -> None:
    rec = await fake.autocomplete(GUILD_ID, CHANNEL_ID, USER_ID, "fruit", {"name": "b"}, "name")
    choices = await rec.wait_choices(STEP)
    assert rec.callback_type == 8
    assert [c["name"] for c in choices] == ["banana", "blueberry"]


@pytest.mark.asyncio
async def test_button_click_reaches_view_and_updates_message(
    fake: FakeDiscord, bot: TinyBot
) -> None:
    rec = await fake.slash(GUILD_ID, CHANNEL_ID, USER_ID, "counter")
    message = await rec.wait_response(STEP)
    assert message.content == "count 0" and message.custom_ids == ["count"]
    click = await fake.click(message.id, "count", user_id=USER_ID)
    await click.wait_ack(STEP)
    assert click.callback_type == 7 and bot.clicks == [USER_ID]
    assert fake.messages[message.id].content == "count 1"
    assert_no_mentions_allowed(fake)


@pytest.mark.asyncio
async def test_attachment_option_is_served_by_the_fake(fake: FakeDiscord, bot: TinyBot) -> None:
    doc = fake.add_attachment("article.txt", b"Quoted text.", "text/plain")
    rec = await fake.slash(GUILD_ID, CHANNEL_ID, USER_ID, "readfile", {"doc": doc})
    reply = await rec.wait_response(STEP)
    assert reply.content == "article.txt (12 bytes): Quoted text."
    assert any(u.endswith(f"/attachments/{doc.id}/article.txt") for u in bot.urls)


@pytest.mark.asyncio
async def test_mention_gets_a_channel_reply(fake: FakeDiscord, bot: TinyBot) -> None:
    msg = await fake.message(
        GUILD_ID, CHANNEL_ID, USER_ID, f"{fake.bot_mention} hi", mentions=[fake.bot_user_id]
    )
    assert msg.dispatched
    seen = await asyncio.wait_for(bot.seen.get(), STEP)
    assert seen.content == f"{fake.bot_mention} hi"  # visible without the content intent
    reply = await fake.wait_for_message(lambda m: m.channel_id == CHANNEL_ID, STEP)
    assert reply.content == "hello reader"
    assert_no_mentions_allowed(fake)


@pytest.mark.asyncio
async def test_dm_message_arrives_with_content(fake: FakeDiscord, bot: TinyBot) -> None:
    posted = await fake.message(None, None, USER_ID, "a private question")
    seen = await asyncio.wait_for(bot.seen.get(), STEP)
    assert seen.id == posted.id and seen.guild is None
    assert seen.content == "a private question"  # DMs are exempt from the content intent


@pytest.mark.asyncio
async def test_subcommand_options_are_typed_from_the_synced_schema(
    fake: FakeDiscord, bot: TinyBot
) -> None:
    rec = await fake.slash(
        GUILD_ID, CHANNEL_ID, USER_ID, "quote search", {"query": "x", "limit": 5}
    )
    assert (await rec.wait_response(STEP)).content == "search 'x' limit=5"
    (sub,) = rec.payload["data"]["options"]
    assert sub["type"] == 1 and [o["type"] for o in sub["options"]] == [3, 4]
    with pytest.raises(ValueError, match="required"):
        await fake.slash(GUILD_ID, CHANNEL_ID, USER_ID, "quote", {"search": {"limit": 1}})


@pytest.mark.asyncio
async def test_message_context_menu_gets_the_resolved_message(
    fake: FakeDiscord, bot: TinyBot
) -> None:
    posted = await fake.message(GUILD_ID, CHANNEL_ID, USER_ID, "the minister said no")
    rec = await fake.message_command(GUILD_ID, CHANNEL_ID, USER_ID, "Quote message", posted.id)
    reply = await rec.wait_response(STEP)
    assert reply.content == "quoting: the minister said no" and reply.ephemeral


@pytest.mark.asyncio
async def test_member_permissions_reach_permission_checks(fake: FakeDiscord, bot: TinyBot) -> None:
    denied = await fake.slash(GUILD_ID, CHANNEL_ID, USER_ID, "reindex")
    reply = await denied.wait_response(STEP)
    assert reply.content == "You need Manage Server." and reply.ephemeral
    allowed = await fake.slash(
        GUILD_ID, CHANNEL_ID, USER_ID, "reindex", permissions=MEMBER_PERMISSIONS | MANAGE_GUILD
    )
    assert (await allowed.wait_response(STEP)).content == "reindexing"


@pytest.mark.asyncio
async def test_ack_after_the_deadline_is_unknown_interaction(
    fake: FakeDiscord, bot: TinyBot
) -> None:
    fake.ack_deadline = 0.2
    rec = await fake.slash(GUILD_ID, CHANNEL_ID, USER_ID, "slow")
    await fake.wait_for(lambda: bot.errors or None, STEP, "the bot to see the error")
    assert bot.errors == [10062] and rec.callback_type is None


@pytest.mark.asyncio
async def test_rest_checks_token_content_type_and_limits(fake: FakeDiscord) -> None:
    url = f"{fake.api_base}/channels/{CHANNEL_ID}/messages"
    auth = {"Authorization": f"Bot {TOKEN}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.api_base}/users/@me") as resp:
            assert resp.status == 401 and resp.headers["Content-Type"] == "application/json"
        async with session.get(f"{fake.api_base}/users/@me", headers=auth) as resp:
            assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
        async with session.post(url, headers=auth, json={"content": "x" * 2001}) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == 50035
        async with session.post(url, headers=auth, json={"content": ""}) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == 50006
        async with session.post(url, headers=auth, json={"content": "ok"}) as resp:
            assert resp.status == 200 and (await resp.json())["content"] == "ok"
    assert [m.content for m in fake.channel_messages(CHANNEL_ID)] == ["ok"]


# -- rate limits ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_429_on_followup_is_waited_out(fake: FakeDiscord, bot: TinyBot) -> None:
    rule = fake.inject_429("POST", r"^/webhooks/\d+/[^/]+$", retry_after=0.4)
    rec = await fake.slash(GUILD_ID, CHANNEL_ID, USER_ID, "ping")
    reply = await rec.wait_response(STEP)
    assert reply.content == "pong"
    assert len(rule.hits) == 1 and len(rule.retries) == 1
    assert rule.retry_delays[0] >= 0.4  # not retried early


@pytest.mark.asyncio
async def test_global_429_on_channel_message_is_waited_out(fake: FakeDiscord, bot: TinyBot) -> None:
    rule = fake.inject_429("POST", r"^/channels/\d+/messages$", retry_after=0.3, scope="global")
    await fake.message(
        GUILD_ID, CHANNEL_ID, USER_ID, f"{fake.bot_mention} hi", mentions=[fake.bot_user_id]
    )
    reply = await fake.wait_for_message(lambda m: m.channel_id == CHANNEL_ID, STEP)
    assert reply.content == "hello reader"
    assert rule.retry_delays and rule.retry_delays[0] >= 0.3
    limited = [r for r in fake.requests if r.status == 429]
    assert len(limited) == 1


# -- gateway resilience --------------------------------------------------------------------


async def post_and_wait(fake: FakeDiscord, bot: TinyBot, text: str) -> discord.Message:
    """A user posts `text` (no mention, so the bot sends no reply); wait until the bot sees it."""
    posted = await fake.message(GUILD_ID, CHANNEL_ID, USER_ID, text)
    while True:
        seen = await asyncio.wait_for(bot.seen.get(), STEP)
        if seen.id == posted.id:
            return seen


@pytest.mark.asyncio
async def test_dropped_connection_resumes_and_replays(fake: FakeDiscord, bot: TinyBot) -> None:
    await fake.drop_connection()
    assert not fake.connected
    seen = await post_and_wait(fake, bot, "sent while disconnected")  # replayed on RESUME
    assert seen.content == ""  # no message content intent and no mention: blanked, as live
    assert fake.resume_count == 1 and fake.identify_count == 1
    assert fake.gateway.connections[-1].path == "/gateway/resume"


@pytest.mark.asyncio
async def test_reconnect_opcode_resumes(fake: FakeDiscord, bot: TinyBot) -> None:
    await fake.send_reconnect()
    await fake.wait_for(lambda: fake.resume_count or None, STEP, "a RESUME")
    await fake.wait_connected(STEP)
    await post_and_wait(fake, bot, "after op 7")
    assert fake.identify_count == 1
    assert fake.gateway.connections[0].close_code == 4000  # resumable close


@pytest.mark.asyncio
async def test_invalid_session_forces_a_new_identify(fake: FakeDiscord, bot: TinyBot) -> None:
    await fake.invalidate_session(resumable=False)
    await fake.wait_for(lambda: fake.identify_count == 2 or None, STEP, "a second IDENTIFY")
    await fake.wait_connected(STEP)
    assert fake.resume_count == 0
    assert fake.gateway.connections[-1].path == "/gateway"  # back to DEFAULT_GATEWAY
    rec = await fake.slash(GUILD_ID, CHANNEL_ID, USER_ID, "ping")
    assert (await rec.wait_response(STEP)).content == "pong"


# -- failures ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_wrong_token_fails_login_cleanly(fake: FakeDiscord) -> None:
    client = TinyBot()
    with pytest.raises(discord.LoginFailure):
        await asyncio.wait_for(client.login("not-the-token"), STEP)
    await asyncio.wait_for(client.close(), STEP)
    assert fake.identify_count == 0 and not fake.gateway.connections


@pytest.mark.asyncio
async def test_privileged_intents_not_granted_close_4014() -> None:
    async with make_fake(granted_intents=0) as server:
        with (
            point_discord_at(server.api_base, server.gateway_url),
            pytest.raises(discord.PrivilegedIntentsRequired),
        ):
            async with running(TinyBot(intents=discord.Intents.all())):
                pass
    assert server.gateway.close_codes_sent == [4014]


@pytest.mark.asyncio
async def test_raw_gateway_plain_zlib_and_bad_token(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(fake.gateway_url + "?v=10&encoding=json") as ws:
            hello = await ws.receive_json(timeout=STEP)
            assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
            await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 0}})
            closing = await ws.receive(timeout=STEP)
            assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4004

        url = fake.gateway_url + "?v=10&encoding=json&compress=zlib-stream"
        async with session.ws_connect(url) as ws:
            inflate = zlib.decompressobj()
            frame = await ws.receive_bytes(timeout=STEP)
            assert frame.endswith(b"\x00\x00\xff\xff")
            assert json.loads(inflate.decompress(frame))["op"] == 10
            await ws.send_json({"op": 1, "d": None})
            ack = json.loads(inflate.decompress(await ws.receive_bytes(timeout=STEP)))
            assert ack["op"] == 11


@pytest.mark.asyncio
async def test_injected_refusals_of_rest_and_gateway(fake: FakeDiscord) -> None:
    rule = fake.inject_error("POST", r"^/channels/\d+/messages$", status=400, code=50035,
                             when=lambda body: bool(body and body.get("embeds")))
    fake.refuse_gateway(2, how="http")
    headers = {"Authorization": f"Bot {TOKEN}"}
    url = f"{fake.api_base}/channels/{CHANNEL_ID}/messages"
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.post(url, json={"embeds": [{"title": "x"}]}) as refused:
            assert refused.status == 400 and (await refused.json())["code"] == 50035
        async with session.post(url, json={"content": "plain"}) as sent:
            assert sent.status == 200  # `when` spared it
        async with session.post(url, json={"embeds": [{"title": "x"}]}) as again:
            assert again.status == 200  # count 1: used up
        for _ in range(2):
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await session.ws_connect(fake.gateway_url)
        async with session.ws_connect(fake.gateway_url) as ws:
            assert (await ws.receive_json(timeout=STEP))["op"] == 10
    assert len(rule.hits) == 1 and rule.hits[0].kind == "refused"
    assert len(fake.gateway.refused) == 2


@pytest.mark.asyncio
async def test_outages_lost_answers_nonces_and_replies_to_deleted_messages(
    fake: FakeDiscord,
) -> None:
    url = f"{fake.api_base}/channels/{CHANNEL_ID}/messages"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {TOKEN}"}) as session:
        outage = fake.inject_outage(60, r"/messages$")
        with pytest.raises(aiohttp.ClientError):  # the connection is cut, no answer
            async with session.post(url, json={"content": "cut"}):
                pass
        outage.until = 0
        refusing = fake.inject_outage(60, r"/messages$", status=503)
        async with session.post(url, json={"content": "503"}) as refused:
            assert refused.status == 503
        refusing.until = 0
        fake.inject_error("POST", r"/messages$", drop="after")
        once = {"content": "once", "nonce": "n1", "enforce_nonce": True}
        with pytest.raises(aiohttp.ClientError):  # it landed; its answer is lost
            async with session.post(url, json=once):
                pass
        async with session.post(url, json=once) as again:  # the same nonce: the same message
            first = await again.json()
        assert [m.content for m in fake.channel_messages(CHANNEL_ID)] == ["once"]
        await fake.delete_message(fake.messages[int(first["id"])])
        ref = {"message_id": first["id"], "channel_id": str(CHANNEL_ID)}
        async with session.post(url, json={"content": "r", "message_reference": ref}) as gone:
            data = await gone.json()
            assert gone.status == 400 and data["code"] == 50035
            assert "message_reference" in data["errors"]
        loose = {**ref, "fail_if_not_exists": False}
        async with session.post(url, json={"content": "r", "message_reference": loose}) as sent:
            assert sent.status == 200 and "message_reference" not in await sent.json()
    assert [r.dropped for r in fake.requests] == [True, False, True, False, False, False]
