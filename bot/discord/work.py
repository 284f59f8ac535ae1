"""Running blocking core work off the event loop, fairly, and knowing what is in flight.

`Worker` owns one thread pool, sized for the machine and shared by every server, and lets each
server use at most `per_server` of its threads at once: a flood of questions in one server
queues behind that server's own slots and never takes every thread from the others. It is not
the loop's default executor, so aiohttp's DNS look-ups (which use that one) never wait behind
a long extraction. `Inflight` tracks the tasks serving interactions so that shutdown can let
them finish, or cancel them, by a deadline.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


def default_threads() -> int:
    """Threads for core work: two per CPU (a fetch waits on the network, an embedding does
    not), at least four, at most 32."""
    return min(32, max(4, 2 * (os.cpu_count() or 1)))


class Stopping(Exception):
    """Raised inside long core work (a rebuild) once the bot is shutting down."""


class Worker:
    """A shared thread pool with a concurrency limit per server (or any other key)."""

    def __init__(self, *, threads: int | None = None, per_server: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.threads = threads or default_threads()
        self.per_server = per_server or max(2, self.threads // 2)
        self.stopping = threading.Event()  # long work checks this between steps
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="citebot-core")
        self._slots: dict[Hashable, asyncio.Semaphore] = {}
        self._busy = 0
        self._idle = threading.Condition()
        self._tickets = itertools.count()
        self._waiting = 0  # calls waiting for their server's slot
        self._queued: dict[int, float] = {}  # ticket -> when it was handed to the pool
        self._clock = clock
        self._finished_at = clock()  # when the last call returned

    async def run(self, key: Hashable, fn: Callable[P, T], /,
                  *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn(*args, **kwargs)` on the pool, at most `per_server` at once per key."""
        slot = self._slots.setdefault(key, asyncio.Semaphore(self.per_server))
        ticket = next(self._tickets)
        self._waiting += 1
        try:
            await slot.acquire()
        finally:
            self._waiting -= 1
        try:
            loop = asyncio.get_running_loop()
            call = functools.partial(self._call, ticket, fn, *args, **kwargs)
            with self._idle:
                self._queued[ticket] = self._clock()
            return await loop.run_in_executor(self._pool, call)
        finally:
            with self._idle:
                self._queued.pop(ticket, None)
            slot.release()

    async def quick(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """A short storage read or write (autocomplete, a page, a vote), which must not wait
        behind heavy work: it goes to a plain thread of its own."""
        return await asyncio.to_thread(functools.partial(self._call, None, fn, *args, **kwargs))

    def _call(self, ticket: int | None, fn: Callable[..., T], *args: object,
              **kwargs: object) -> T:
        with self._idle:
            if ticket is not None:
                self._queued.pop(ticket, None)
            # Once stopping, nothing new starts: a task that outlives the bot (linking an
            # answer to its conversation, say) must not reach a core that is being closed.
            self.check_stopping()
            self._busy += 1
        try:
            return fn(*args, **kwargs)
        finally:
            with self._idle:
                self._busy -= 1
                if ticket is not None:  # a pool call (quick ones, like /healthz's, run apart)
                    self._finished_at = self._clock()
                self._idle.notify_all()

    @property
    def busy(self) -> int:
        """Core calls running right now."""
        return self._busy

    @property
    def queued(self) -> int:
        """Core calls waiting to start: for their server's slot or for a thread."""
        with self._idle:
            return self._waiting + len(self._queued)

    def stuck_for(self, after: float) -> float | None:
        """Seconds the oldest call has waited for a thread, when that is over `after` and no
        call finished for as long (every thread held by work that does not return); else
        None. Waiting for one's own server's slot is fairness, not a stuck pool."""
        now = self._clock()
        with self._idle:
            if not self._queued or now - self._finished_at <= after:
                return None
            waited = now - min(self._queued.values())
        return waited if waited > after else None

    def check_stopping(self) -> None:
        """Raise `Stopping` if shutdown has begun (called from worker threads)."""
        if self.stopping.is_set():
            raise Stopping("citebot is shutting down")

    def close(self, timeout: float) -> bool:
        """Stop taking work, drop what is queued and wait up to `timeout` seconds for running
        calls to return; True if none is left running."""
        self.stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)
            if self._busy:
                log.warning("abandoning %d core call(s) still running", self._busy)
            return self._busy == 0


class Inflight:
    """The tasks currently serving an interaction or a mention."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()

    def adopt(self) -> None:
        """Track the running task until it ends."""
        task = asyncio.current_task()
        if task is not None and task not in self._tasks:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float) -> int:
        """Wait up to `timeout` seconds for tracked tasks, then cancel the rest; returns how
        many were abandoned."""
        pending = {t for t in self._tasks if t is not asyncio.current_task()}
        if pending:
            _, pending = await asyncio.wait(pending, timeout=max(0.0, timeout))
        for task in pending:
            task.cancel()
        if pending:
            log.warning("abandoning %d interaction(s) still in progress", len(pending))
            await asyncio.wait(pending, timeout=1.0)
        return len(pending)
