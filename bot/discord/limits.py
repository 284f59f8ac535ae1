"""Per-member cooldown on questions, per-server quota on additions, and the questions the bot
takes at all.

All are checked before a command defers, and raise a `CheckFailure` subclass that the global
error handler turns into a short ephemeral message (saying when to try again). Refusals that
cannot be ephemeral (replies to mentions) are rationed: one per member per cooldown.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from discord import app_commands

from index.store.protocol import RateLedger

QUESTION_MAX = 256  # the /ask option's limit; mentions are held to it too


class OnCooldown(app_commands.CheckFailure):
    """The member asked too recently."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"on cooldown for {retry_after:.1f}s")
        self.retry_after = retry_after


class QuotaExceeded(app_commands.CheckFailure):
    """The server added its hourly quota of articles."""

    def __init__(self, retry_after: float, quota: int) -> None:
        super().__init__(f"quota of {quota} reached; retry in {retry_after:.0f}s")
        self.retry_after = retry_after
        self.quota = quota


class BadQuestion(app_commands.CheckFailure):
    """The question is empty, or longer than QUESTION_MAX."""

    def __init__(self, length: int) -> None:
        super().__init__(f"a question of {length} characters")
        self.length = length
        self.too_long = length > QUESTION_MAX


def check_question(question: str) -> None:
    """Raise `BadQuestion` unless the question has 1 to QUESTION_MAX characters."""
    if not question.strip() or len(question) > QUESTION_MAX:
        raise BadQuestion(len(question))


class Cooldown:
    """One use per `per_s` seconds per key."""

    def __init__(self, per_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_s = per_s
        self._clock = clock
        self._last: dict[int, float] = {}

    def hit(self, key: int) -> None:
        """Record a use, or raise `OnCooldown` if the last one was too recent."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.per_s:
            raise OnCooldown(self.per_s - (now - last))
        self._last[key] = now
        if len(self._last) > 10_000:  # forget members who have long cooled down
            self._last = {k: t for k, t in self._last.items() if now - t < self.per_s}


class Quota:
    """At most `count` uses per `window_s` seconds per key (a sliding window)."""

    def __init__(self, count: int, window_s: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.count = count
        self.window_s = window_s
        self._clock = clock
        self._uses: dict[int, deque[float]] = {}

    def take(self, key: int, n: int = 1) -> None:
        """Use `n` of the key's quota, or raise `QuotaExceeded` (using none) if it lacks them."""
        now = self._clock()
        uses = self._uses.setdefault(key, deque())
        while uses and now - uses[0] >= self.window_s:
            uses.popleft()
        if len(uses) + n > self.count:
            oldest = uses[len(uses) + n - self.count - 1] if n <= self.count else now
            raise QuotaExceeded(max(1.0, self.window_s - (now - oldest)), self.count)
        uses.extend([now] * n)


class Limits:
    """The bot's rate limits, built from settings. With ``rates`` (PostgreSQL) the ask
    cooldown and the add quota are counted in the database, so they hold across every bot
    process on it; without, in this process's memory."""

    def __init__(self, *, ask_cooldown_s: float, add_quota_per_hour: int,
                 rates: RateLedger | None = None) -> None:
        self.ask = Cooldown(ask_cooldown_s)
        self.add = Quota(add_quota_per_hour)
        self.rates = rates
        self._notices = Cooldown(ask_cooldown_s)  # per process: it only rations refusals

    async def hit_ask(self, key: int) -> None:
        """Record a question by member ``key``, or raise `OnCooldown`."""
        if self.rates is None or self.ask.per_s <= 0:
            self.ask.hit(key)
            return
        wait = await asyncio.to_thread(self.rates.take, "ask", key, 1, 1, self.ask.per_s)
        if wait is not None:
            raise OnCooldown(wait)

    async def take_add(self, key: int, n: int = 1) -> None:
        """Use ``n`` of server ``key``'s add quota, or raise `QuotaExceeded` (using none)."""
        if self.rates is None:
            self.add.take(key, n)
            return
        wait = await asyncio.to_thread(self.rates.take, "add", key, n, self.add.count,
                                       self.add.window_s)
        if wait is not None:
            raise QuotaExceeded(max(1.0, wait), self.add.count)

    def may_tell(self, key: int) -> bool:
        """Whether to send a refusal that everyone in the channel sees: the first one within a
        cooldown, not the rest (a reply to every refused mention would let one member flood
        the channel through the bot)."""
        try:
            self._notices.hit(key)
        except OnCooldown:
            return False
        return True
