"""A discord.py client connected to the fake for the length of a block: the one way every
end-to-end test starts a client (citebot's bot or a tiny one) and always stops it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

import discord

C = TypeVar("C", bound=discord.Client)


@asynccontextmanager
async def connected(client: C, token: str, *, step: float,
                    ready_within: float | None = None) -> AsyncIterator[C]:
    """Log `client` in, connect it and wait for it to be ready (within `ready_within`, else
    `step` seconds); always close it and reap its connection task, each within `step`."""
    task: asyncio.Task[None] | None = None
    try:
        await asyncio.wait_for(client.login(token), step)
        task = asyncio.create_task(client.connect())
        ready = asyncio.create_task(client.wait_until_ready())
        await asyncio.wait({task, ready}, timeout=ready_within or step,
                           return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            if task.done():
                task.result()  # re-raise why connect() ended
            raise TimeoutError("the client did not become ready")
        yield client
    finally:
        await asyncio.wait_for(client.close(), step)
        if task is not None:
            await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), step)
