"""News that comes in by itself, end to end: the real bot against the fake Discord and a local
news site on 127.0.0.1. Subscribe, a new entry appears, it is announced without pings and
`/ask` quotes it; watched channels index members' links (not code, spoilers or bots')."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.discord import render, render_feeds
from index.encode.embed import Embedder
from tests.fakediscord import FakeUser
from tests.feedsite import FeedSite
from tests.test_bot_support import (
    ALICE,
    BOB,
    CHANNEL_A,
    GUILD_A,
    MANAGER,
    STEP,
    Env,
    assert_no_mentions,
    bot_env,
    description,
    poll,
    reply_to,
)
from tests.test_feeds import QUOTES, serve_news


def allow(site: FeedSite, **more: Any) -> dict[str, Any]:
    return {"fetch_allow_networks": ["127.0.0.1/32"], "fetch_allow_ports": [site.port],
            "feed_interval_s": 1.0, "min_score": -1.0, **more}


async def ask(env: Env, question: str) -> str:
    rec = await env.slash("ask", {"question": question})
    return description(await rec.wait_response(STEP))


FEED_STEP = 30.0  # a poll fetches and extracts pages: a cold extraction worker takes seconds


def announced(env: Env, title: str) -> Any:
    return env.fake.wait_for_message(
        lambda m: m.channel_id == CHANNEL_A and any(e.get("title") == title for e in m.embeds),
        FEED_STEP)


async def test_subscribe_then_new_entries_are_announced_and_answerable(
        tmp_path: Path, site: FeedSite, real_embedder: Embedder) -> None:
    serve_news(site, ["harbor"])
    async with bot_env(tmp_path, embedder=real_embedder, **allow(site)) as env:
        rec = await env.slash("feeds add", {"url": site.url("/feed.xml"), "channel": CHANNEL_A},
                              permissions=MANAGER)
        reply = await rec.wait_response(STEP)
        assert reply.content.startswith("Following **Averly Gazette**")
        assert f"<#{CHANNEL_A}>" in reply.content
        message = await announced(env, "Harbor")
        (embed,) = message.embeds
        assert embed["url"] == site.url("/news/harbor") and "Averly Gazette" in embed[
            "description"]
        assert "We cannot ask families to rebuild" in await ask(
            env, "What did Mayor Ortiz say about families?")
        serve_news(site, ["library", "harbor"])  # a new entry
        await announced(env, "Library")
        assert "until 9 p.m. on Saturdays" in await ask(
            env, "Until when will the library stay open on Saturdays?")
        rec = await env.slash("feeds list", permissions=MANAGER)
        listing = await rec.wait_response(STEP)
        assert listing.ephemeral and "Averly Gazette" in description(listing)
        assert "2 articles" in description(listing)
        rec = await env.slash("feeds remove", {"feed": "1"}, permissions=MANAGER)
        assert (await rec.wait_response(STEP)).content.startswith("No longer following")
        assert env.core.feeds(f"guild-{GUILD_A}") == []
        assert_no_mentions(env.fake)


async def test_many_new_articles_are_announced_in_one_message(
        tmp_path: Path, site: FeedSite) -> None:
    serve_news(site, list(QUOTES))
    async with bot_env(tmp_path, **allow(site)) as env:
        rec = await env.slash("feeds add", {"url": site.url("/feed.xml"), "channel": CHANNEL_A},
                              permissions=MANAGER)
        await rec.wait_response(STEP)
        message = await env.fake.wait_for_message(
            lambda m: m.channel_id == CHANNEL_A and len(m.embeds) == len(QUOTES), FEED_STEP)
        assert {e["title"] for e in message.embeds} == {s.title() for s in QUOTES}
        assert len([m for m in env.fake.bot_messages() if m.embeds]) == 1
        assert_no_mentions(env.fake)


async def test_feeds_need_manage_server_and_a_failing_feed_says_why(
        tmp_path: Path, site: FeedSite) -> None:
    serve_news(site, ["harbor"])
    async with bot_env(tmp_path, feed_failures_to_pause=1, **allow(site)) as env:
        rec = await env.slash("feeds add", {"url": site.url("/feed.xml")}, user=BOB)
        assert (await rec.wait_response(STEP)).content == render.MANAGE_SERVER
        rec = await env.slash("feeds add", {"url": "http://10.0.0.1/feed"}, permissions=MANAGER)
        assert (await rec.wait_response(STEP)).content.startswith("Could not fetch that page.")
        rec = await env.slash("feeds add", {"url": site.url("/feed.xml"), "channel": CHANNEL_A},
                              permissions=MANAGER)
        await rec.wait_response(STEP)
        await announced(env, "Harbor")
        del site.routes["/feed.xml"]  # the feed disappears: 404
        feed = env.core.feeds(f"guild-{GUILD_A}")[0]
        env.core.storage.save_feed(type(feed)(**{**feed.__dict__, "next_poll_at": 0.0,
                                                 "etag": None, "body_hash": None}))
        notice = await env.fake.wait_for_message(
            lambda m: m.content.startswith("Stopped polling the feed"), FEED_STEP)
        assert "HTTP 404" in notice.content and notice.channel_id == CHANNEL_A
        rec = await env.slash("feeds list", permissions=MANAGER)
        assert "Paused" in description(await rec.wait_response(STEP))
        assert_no_mentions(env.fake)


async def test_watched_channels_index_members_links(tmp_path: Path, site: FeedSite) -> None:
    for slug in ("harbor", "library", "tram"):
        site.article(slug, QUOTES[slug])
    robot = FakeUser(940_000_000_000_000_001, "otherbot", bot=True)
    async with bot_env(tmp_path, discord_message_content=True, **allow(site)) as env:
        env.fake.users[robot.id] = robot
        rec = await env.slash("watch", {"channel": CHANNEL_A}, permissions=MANAGER)
        assert (await rec.wait_response(STEP)).content.startswith(f"Watching <#{CHANNEL_A}>")
        posted = await env.fake.message(
            GUILD_A, CHANNEL_A, BOB, f"read {site.url('/news/harbor')}! not `"
            f"{site.url('/news/library')}` nor ||{site.url('/news/tram')}||")
        await poll(lambda: posted.reactions == [render_feeds.INDEXED], FEED_STEP)
        (article,) = env.core.articles(f"guild-{GUILD_A}")
        assert article.title == "Harbor" and article.added_by == str(BOB)
        await env.fake.message(GUILD_A, CHANNEL_A, robot.id, site.url("/news/tram"))
        bad = await env.fake.message(GUILD_A, CHANNEL_A, ALICE,
                                     f"see http://10.0.0.1:{site.port}/secret")
        reply = await reply_to(env.fake, bad, FEED_STEP)
        assert reply.content.startswith("Could not index this link:")
        assert "private network" in reply.content and bad.reactions == []
        again = await env.fake.message(GUILD_A, CHANNEL_A, ALICE, site.url("/news/harbor"))
        await poll(lambda: again.reactions == [render_feeds.INDEXED])  # known: no fetch
        assert site.count("/news/harbor") == 1 and site.count("/news/tram") == 0
        assert len(env.core.articles(f"guild-{GUILD_A}")) == 1
        rec = await env.slash("unwatch", {"channel": CHANNEL_A}, permissions=MANAGER)
        assert (await rec.wait_response(STEP)).content == render_feeds.unwatched(CHANNEL_A)
        assert_no_mentions(env.fake)


async def test_without_the_message_content_intent_watch_says_what_to_do(
        tmp_path: Path, site: FeedSite) -> None:
    async with bot_env(tmp_path, **allow(site)) as env:
        rec = await env.slash("watch", {"channel": CHANNEL_A}, permissions=MANAGER)
        assert (await rec.wait_response(STEP)).content == render_feeds.NEEDS_CONTENT_INTENT
        assert env.core.watched() == []
    async with bot_env(tmp_path / "refused", discord_message_content=True,
                       fake_options={"granted_intents": 0}, **allow(site)) as env:
        identify = [s.identify["intents"] for s in env.fake.gateway.sessions.values()]
        assert identify and identify[-1] & (1 << 15) == 0  # went on without it
        rec = await env.slash("watch", {"channel": CHANNEL_A}, permissions=MANAGER)
        assert (await rec.wait_response(STEP)).content == render_feeds.NEEDS_CONTENT_INTENT
        assert env.core.watched() == []
