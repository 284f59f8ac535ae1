"""Where a database's schema stands, alike for both backends' numbered migrations
(``embedded.sqlite_migrations``, ``postgres.migrations``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

M = TypeVar("M")


@dataclass(frozen=True)
class Status(Generic[M]):
    """Where a database's schema stands."""

    version: int  # 0: no versions recorded (new, or made before the schema had versions)
    latest: int  # what this citebot knows
    pending: tuple[M, ...]  # the backend's migrations the database lacks, in order

    @property
    def too_new(self) -> bool:
        return self.version > self.latest
