"""Which process serves which bot shard: a claim per shard, held while the process runs.

Two `citebot run` processes given the same shard would both receive that shard's servers'
events (Discord hands them to whichever connected last, and the other goes silent or answers
twice). Each process therefore claims its shards in the store every process shares, and the
second claimant of a shard is refused before it connects. The embedded store claims with an
``flock`` on a file per shard in the data directory; PostgreSQL with a session advisory lock
(``index.store.postgres.claim_shards``). Either is released by the operating system or the server
when the process dies, so a crashed process never keeps its shards.
"""

from __future__ import annotations

import fcntl
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from config.settings import Settings
from index.store.claims import ShardClaim, taken

__all__ = ["ShardClaim", "claim_files", "claim_shards", "taken"]


def claim_shards(settings: Settings) -> ShardClaim:
    """Claim the shards this process serves in the configured store, or raise
    ``ShardTakenError`` (claiming none) if another process serves one of them."""
    if settings.database_url is None:
        return claim_files(settings.data_dir / "shards", settings.served_shards)
    from index.store.postgres import claim_shards as claim_in_database

    return claim_in_database(settings.database_url.get_secret_value(), settings.served_shards)


def claim_files(directory: Path, shards: Sequence[int]) -> ShardClaim:
    """Claim each shard by an exclusive ``flock`` on ``directory/shard-N.lock``, or raise
    ``ShardTakenError`` (holding none) if another process holds one of them."""
    directory.mkdir(parents=True, exist_ok=True)
    held: list[IO[str]] = []

    def release() -> None:
        for fh in held:
            fh.close()  # closing the file releases its lock

    for shard in shards:
        fh = open(directory / f"shard-{shard}.lock", "a")  # noqa: SIM115  (held past return)
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            release()
            raise taken(shard, "data directory") from None
        held.append(fh)
    return ShardClaim(shards, release)
