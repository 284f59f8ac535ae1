"""Getting a message to Discord while its API falters.

- `persist` tries a send again when it fails on the network (a refused or dropped connection,
  a timeout) or with a 5xx, after pauses of 1, 2, 4, 8, 15, 15 and 15 s (`PAUSES`, 60 s in
  all); no attempt starts after that, and `Undelivered` says what the last one met. discord.py
  retries some 5xx answers itself first (500, 502, 504 for about 25 s), but neither a dropped
  connection nor a 503.
- A retry never posts an answer twice: a channel message carries one nonce on every attempt,
  which Discord enforces (a repeated nonce returns the message it already made), and the first
  page of an interaction's answer is retried as an edit of its deferred message, which comes
  out the same whether the first try landed or not. A later page of a long /ask answer has no
  such key: if its send landed and only the answer to it was lost, it can show twice.
- `typing` shows "citebot is typing..." beside the work, as decoration: a typing request that
  fails or hangs never delays the answer or costs it.
- `is_gone` and `refuses_embeds` read a refusal: the message replied to was deleted, or
  Discord took the message but not its embeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import aiohttp
import discord

log = logging.getLogger(__name__)

T = TypeVar("T")

PAUSES: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0)
TYPING_EVERY_S = 8.0  # Discord shows typing for 10 s after each request
#: A send that failed on the way, not by Discord's decision: worth trying again.
TRANSIENT = (aiohttp.ClientError, OSError, asyncio.TimeoutError, discord.DiscordServerError)
UNKNOWN_MESSAGE, MISSING_PERMISSIONS, INVALID_FORM_BODY = 10008, 50013, 50035


class Undelivered(Exception):
    """A send that still failed on the network or with a 5xx when the retries ran out."""

    def __init__(self, last: BaseException, tries: int, seconds: float) -> None:
        super().__init__(f"{type(last).__name__}: {last} (tried {tries} times over "
                         f"{seconds:.0f} s)")
        self.last, self.tries, self.seconds = last, tries, seconds


async def persist(send: Callable[[int], Awaitable[T]],
                  pauses: tuple[float, ...] = PAUSES) -> T:
    """`send(tried)` (`tried`: attempts before this one), again after each of `pauses` while
    it fails on the network or with a 5xx; `Undelivered` once they are spent. A refusal
    (any other HTTP error) is raised at once."""
    start = time.monotonic()
    for tried, pause in enumerate((*pauses, None)):
        try:
            return await send(tried)
        except TRANSIENT as exc:
            if pause is None:
                raise Undelivered(exc, tried + 1, time.monotonic() - start) from exc
            log.debug("a send failed (%s: %s); trying again in %.0f s", type(exc).__name__,
                      exc, pause)
        await asyncio.sleep(pause)
    raise AssertionError("unreachable")  # the last pause is None: it returns or raises


def nonce() -> int:
    """A fresh nonce for one message, to send with each of its attempts."""
    return secrets.randbits(63)


@contextlib.asynccontextmanager
async def typing(channel: discord.abc.Messageable) -> AsyncIterator[None]:
    """Show the bot typing in `channel` while the body runs, without ever waiting for it."""
    task = asyncio.create_task(_keep_typing(channel), name="citebot-typing")
    try:
        yield
    finally:
        task.cancel()


async def _keep_typing(channel: discord.abc.Messageable) -> None:
    while True:
        try:
            await channel.typing()  # one request
        except Exception as exc:  # decoration: whatever failed, the answer goes on
            log.debug("a typing indicator failed: %s: %s", type(exc).__name__, exc)
        await asyncio.sleep(TYPING_EVERY_S)


def _refused_field(exc: discord.HTTPException, name: str) -> bool:
    """Whether Discord's Invalid Form Body names `name` among the refused fields (discord.py
    flattens them into lines "In embeds.0.title: ...")."""
    return exc.code == INVALID_FORM_BODY and re.search(
        rf"^In {re.escape(name)}\b", exc.text, re.MULTILINE) is not None


def is_gone(exc: BaseException) -> bool:
    """The message replied to no longer exists: Unknown Message, or Invalid Form Body on the
    reply's `message_reference`."""
    return isinstance(exc, discord.HTTPException) and (
        exc.code == UNKNOWN_MESSAGE or _refused_field(exc, "message_reference"))


def refuses_embeds(exc: BaseException) -> bool:
    """Discord would take the message but not its embeds: an embed broke one of its rules,
    or a permission is missing (Embed Links, most likely; should it be Send Messages, the
    plain text meets the same refusal once). Any other refusal would meet plain text too."""
    return isinstance(exc, discord.HTTPException) and (
        exc.code == MISSING_PERMISSIONS or _refused_field(exc, "embeds"))
