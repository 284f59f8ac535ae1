"""A claim on bot shards, as either store makes it (``index.store.shards`` says why): what
the claimant holds, how it gives them up, and the one-line refusal when another process holds
one. Here, not in ``shards``, so that the PostgreSQL backend can make a claim without
importing the module that chooses between the backends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from index.errors import ShardTakenError


def taken(shard: int, store: str) -> ShardTakenError:
    """The one-line refusal for a shard another process holds."""
    return ShardTakenError(
        f"shard {shard} is already served by another citebot process using this {store}; give "
        "each process its own CITEBOT_SHARD_IDS (or stop the other process first)")


class ShardClaim:
    """Shards claimed by this process; ``release`` (or the process ending) gives them up."""

    def __init__(self, shards: Sequence[int], release: Callable[[], None]) -> None:
        self.shards = tuple(shards)
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        release = self._release
        self._release = None
        if release is not None:
            release()

    def __enter__(self) -> ShardClaim:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
