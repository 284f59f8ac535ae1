"""What several bot processes on one PostgreSQL database share beyond the articles: each
"process" here is a core of its own (its own connection pools) on one database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.limits import Limits, OnCooldown, QuotaExceeded
from config.settings import Settings
from retrieval.core import Core
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
