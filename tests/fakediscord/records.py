"""What the fake remembers so tests can assert on it: messages, interactions, requests, 429s.

All `*_at` fields are `time.monotonic()` seconds, the clock asyncio's loop uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

EPHEMERAL = 1 << 6
LOADING = 1 << 7


class Notifier:
    """Wakes waiters whenever something changed; they re-check their own condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        """Return `check()` once it is not None; raise TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"fake discord: timed out after {timeout}s waiting for {what}")
            event = self._event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)


@dataclass(eq=False)
class MessageRecord:
    """A message in the fake: the Discord message object plus how it came to be."""

    payload: dict[str, Any]
    created_at: float = field(default_factory=time.monotonic)
    interaction_id: int | None = None
    bodies: list[dict[str, Any]] = field(default_factory=list)
    edited_at: float | None = None
    edits: list[float] = field(default_factory=list)  # when each edit arrived
    deleted_at: float | None = None
    reactions: list[str] = field(default_factory=list)
    dispatched: bool = False  # for injected user messages: whether the bot was sent it

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def channel_id(self) -> int:
        return int(self.payload["channel_id"])

    @property
    def author_id(self) -> int:
        return int(self.payload["author"]["id"])

    @property
    def content(self) -> str:
        return str(self.payload.get("content", ""))

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list(self.payload.get("embeds", []))

    @property
    def components(self) -> list[dict[str, Any]]:
        return list(self.payload.get("components", []))

    @property
    def attachments(self) -> list[dict[str, Any]]:
        return list(self.payload.get("attachments", []))

    @property
    def flags(self) -> int:
        return int(self.payload.get("flags", 0))

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while this is a deferred "Bot is thinking..." placeholder."""
        return bool(self.flags & LOADING)

    @property
    def allowed_mentions(self) -> dict[str, Any] | None:
        """`allowed_mentions` of the latest body the bot sent for this message that had one."""
        for body in reversed(self.bodies):
            if "allowed_mentions" in body:
                return body["allowed_mentions"]
        return None

    @property
    def custom_ids(self) -> list[str]:
        """custom_id of every component, rows flattened."""
        found: list[str] = []
        stack = list(self.components)
        while stack:
            comp = stack.pop(0)
            if "custom_id" in comp:
                found.append(comp["custom_id"])
            stack[:0] = comp.get("components", [])
        return found


@dataclass(eq=False)
class InteractionRecord:
    """One injected interaction and everything the bot answered to it."""

    id: int
    token: str
    type: int
    payload: dict[str, Any]
    notifier: Notifier
    guild_id: int | None = None
    channel_id: int = 0
    user_id: int = 0
    target: MessageRecord | None = None  # the message a clicked component belongs to
    injected_at: float = field(default_factory=time.monotonic)
    callback_type: int | None = None
    callback_body: dict[str, Any] | None = None
    acked_at: float | None = None
    original: MessageRecord | None = None
    followups: list[MessageRecord] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None
    modal: dict[str, Any] | None = None
    responded_at: float | None = None

    @property
    def ack_latency(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.injected_at

    @property
    def response_latency(self) -> float | None:
        """Seconds from injection to the first message the user could read."""
        return None if self.responded_at is None else self.responded_at - self.injected_at

    @property
    def deferred(self) -> bool:
        return self.callback_type in (5, 6)

    @property
    def messages(self) -> list[MessageRecord]:
        """Visible (non-placeholder, undeleted) messages: the original first, then followups."""
        found = [self.original] if self.original is not None else []
        found += self.followups
        return [m for m in found if not m.loading and m.deleted_at is None]

    @property
    def response(self) -> MessageRecord | None:
        visible = self.messages
        return visible[0] if visible else None

    def mark_responded(self) -> None:
        if self.responded_at is None and self.messages:
            self.responded_at = time.monotonic()
        self.notifier.notify()

    async def wait_ack(self, timeout: float = 5.0) -> float:
        """Wait for the interaction callback; return seconds from injection to it."""
        return await self.notifier.wait_for(lambda: self.ack_latency, timeout, f"ack of {self.id}")

    async def wait_response(self, timeout: float = 5.0) -> MessageRecord:
        """Wait for the first visible message: a type 4/7 reply, the filled deferred original
        (by a followup or an edit of @original) or a followup."""
        return await self.notifier.wait_for(lambda: self.response, timeout, f"reply to {self.id}")

    wait_followup = wait_response

    async def wait_messages(self, count: int, timeout: float = 5.0) -> list[MessageRecord]:
        """Wait until `count` visible messages exist; return them all."""

        def check() -> list[MessageRecord] | None:
            return self.messages if len(self.messages) >= count else None

        return await self.notifier.wait_for(check, timeout, f"{count} messages for {self.id}")

    async def wait_choices(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait for an autocomplete result (callback type 8); return its choices."""
        return await self.notifier.wait_for(lambda: self.choices, timeout, f"choices of {self.id}")


@dataclass(eq=False)
class OutboundRequest:
    """One HTTP request the bot made. `body` is the JSON it sent (payload_json for multipart)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float
    kind: str = "other"
    status: int | None = None
    files: list[str] = field(default_factory=list)
    peer_port: int | None = None  # the client's port on 127.0.0.1 (which process sent it)
    dropped: bool = False  # the connection was cut instead of answering (an injected fault)

    @property
    def message_body(self) -> dict[str, Any] | None:
        """The message-shaped part of the body: callbacks carry it under `data`."""
        if self.kind == "callback":
            data = (self.body or {}).get("data")
            return data if (self.body or {}).get("type") in (4, 7) and data else None
        if self.kind in ("message", "edit", "followup", "webhook_edit"):
            return self.body if isinstance(self.body, dict) else None
        return None


@dataclass(eq=False)
class RateLimitRule:
    """An injected 429: the next `count` requests matching method and path get it."""

    method: str
    pattern: re.Pattern[str]
    retry_after: float
    scope: str
    count: int
    bucket: str
    hits: list[float] = field(default_factory=list)
    retries: list[float] = field(default_factory=list)

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and self.pattern.search(path) is not None

    @property
    def retry_delays(self) -> list[float]:
        """For each 429 answered, seconds until the next matching request arrived."""
        return [r - h for h, r in zip(self.hits, self.retries, strict=False)]


@dataclass(eq=False)
class ErrorRule:
    """An injected refusal: the next `count` requests matching method, path and `when` (a test
    on the JSON body, None for any) get `status` with Discord's error `code`, `message` and
    `errors` (which fields were refused, as Discord nests them). With `until` (a
    `time.monotonic()` time) every matching request is refused until then, whatever `count`.
    `drop` cuts the connection instead of answering: "before" the request is handled (it never
    landed), or "after" (it landed, but its answer is lost)."""

    method: str
    pattern: re.Pattern[str]
    status: int
    code: int
    message: str
    count: int
    when: Callable[[Any], bool] | None = None
    hits: list[OutboundRequest] = field(default_factory=list)
    errors: dict[str, Any] | None = None
    until: float | None = None
    drop: str | None = None

    def matches(self, method: str, path: str, body: Any) -> bool:
        active = self.count > 0 if self.until is None else time.monotonic() < self.until
        if not active or self.method not in ("*", method) or not self.pattern.search(path):
            return False
        return self.when is None or bool(self.when(body))
