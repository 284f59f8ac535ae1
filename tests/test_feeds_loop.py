"""The bot's background poller against a feed whose every poll fails unexpectedly (here, in
storage): it backs off like any failed poll, logged once a poll, and the other feeds of the
same host go on being polled. Before, the poll escaped with no backoff and the loop polled the
same feed again at once, hundreds of times a second."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from tests.feedsite import FeedSite
from tests.test_bot_support import GUILD_A, bot_env

WORDS = " ".join(f"Word{i} of the long story the feed carries whole." for i in range(40))


def serve(site: FeedSite, name: str) -> str:
    items = [{"id": name, "title": f"Story {name}", "content_text": f"{name}: {WORDS}"}]
    site.page(f"/{name}.json", json.dumps({"version": "https://jsonfeed.org/version/1.1",
                                           "title": name, "items": items}).encode(),
              "application/feed+json", conditional=False)
    return site.url(f"/{name}.json")


async def test_a_feed_failing_unexpectedly_backs_off_and_its_host_goes_on(
        tmp_path: Path, site: FeedSite, caplog: pytest.LogCaptureFixture) -> None:
    settings: dict[str, Any] = {"fetch_allow_networks": ["127.0.0.1/32"],
                                "fetch_allow_ports": [site.port], "feed_interval_s": 1.0,
                                "feed_max_interval_s": 1.0, "min_score": -1.0}
    collection = f"guild-{GUILD_A}"
    async with bot_env(tmp_path, **settings) as env:
        bad = await asyncio.to_thread(env.core.add_feed, collection, serve(site, "bad"))
        storage = env.core.poller.storage
        real_mark = storage.mark_seen

        def mark_seen(feed_id: int, *args: Any) -> None:
            if feed_id == bad.id:
                raise RuntimeError("unexpected trouble in storage")
            real_mark(feed_id, *args)

        storage.mark_seen = mark_seen  # type: ignore[method-assign]
        caplog.set_level(logging.INFO)
        good_url = serve(site, "good")
        await asyncio.to_thread(env.core.add_feed, collection, good_url)
        env.bot.feed_loop.wake.set()
        started = time.monotonic()
        while time.monotonic() - started < 4.0:
            await asyncio.sleep(0.2)
    bad_polls, good_polls = site.count("/bad.json") - 1, site.count("/good.json") - 1
    assert 1 <= bad_polls <= 6, bad_polls  # about one a second, the longest wait
    assert good_polls >= 2
    failures = [r for r in caplog.records if "unexpected trouble" in r.getMessage()
                or (r.exc_info and "unexpected trouble" in str(r.exc_info[1]))]
    assert len(failures) == bad_polls
