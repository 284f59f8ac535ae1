"""Live progress of a long job, shown by editing one message at most once per interval."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType

from bot.discord import render


class ProgressMessage:
    """`update(done, total)` may be called from any thread; the message is edited from the
    event loop, never more often than every `interval` seconds, always showing the latest
    figures. Use as `async with`, then `await finish(text)`."""

    def __init__(self, edit: Callable[[str], Awaitable[None]], *, interval: float = 1.0,
                 check: Callable[[], None] | None = None) -> None:
        self._edit = edit
        self._interval = interval
        self._check = check
        self._loop = asyncio.get_running_loop()
        self._latest = (0, 0)
        self._changed = asyncio.Event()
        self._last_edit = float("-inf")
        self._task: asyncio.Task[None] | None = None

    def update(self, done: int, total: int) -> None:
        """Record progress (thread-safe). `check` runs first: it may raise to stop the job."""
        if self._check is not None:
            self._check()
        self._loop.call_soon_threadsafe(self._set, done, total)

    def _set(self, done: int, total: int) -> None:
        self._latest = (done, total)
        self._changed.set()

    async def _pump(self) -> None:
        while True:
            await self._changed.wait()
            await self._wait_turn()
            self._changed.clear()
            await self._edit_now(render.progress(*self._latest))

    async def _wait_turn(self) -> None:
        delay = self._last_edit + self._interval - self._loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _edit_now(self, text: str) -> None:
        self._last_edit = self._loop.time()
        await self._edit(text)

    async def finish(self, text: str) -> None:
        """The final edit (also throttled)."""
        await self._wait_turn()
        await self._edit_now(text)

    async def __aenter__(self) -> ProgressMessage:
        self._task = asyncio.create_task(self._pump(), name="citebot-progress")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
