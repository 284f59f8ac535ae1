"""Bounds on one request to the model: it ends at its deadline with its connection closed, and
its reply is read up to `REPLY_MAX_BYTES`.

The HTTP client's own timeouts are per read: a server that sends a keep-alive comment every
few seconds, or drips a huge body, never trips them. So each request carries a `Guard`:

- the HTTP transport (`guarded_transport`, around the one the ``openai`` client uses) counts
  every byte of the reply and checks the deadline at each piece, ending the request past
  either;
- the guard learns the request's socket as it connects (the HTTP core's ``trace`` extension),
  so the side that waits for the model can end the request from outside when the deadline
  passes (`Guard.end` shuts the socket down): a read blocked on a silent server returns at
  once, and the thread reading the model ends with its connection.

Connections are not kept alive between requests: each request's connection is its own, and
closed when it ends.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

REPLY_MAX_BYTES = 4 * 2**20  # an answer of 400 tokens streamed is about 100 KiB
TOO_LATE = "the model did not finish in time"
TOO_BIG = f"the model's reply passed {REPLY_MAX_BYTES // 2**20} MiB"
COMPRESSED = "the server compressed its reply though asked not to"


class BoundExceeded(Exception):
    """The request passed its deadline or its byte bound (the guard says which)."""


class Guard:
    """One request's deadline, byte bound, and sockets; `end` may be called from any thread."""

    def __init__(self, deadline: float, max_bytes: int = REPLY_MAX_BYTES) -> None:
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.received = 0
        self.reason: str | None = None
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []

    def left(self) -> float:
        """Seconds to the deadline (at least a little, so that a timeout can be given)."""
        return max(0.01, self.deadline - time.monotonic())

    def trace(self, name: str, info: dict[str, Any]) -> None:
        """The HTTP core's trace callback: keeps the socket of each connection made."""
        get = getattr(info.get("return_value"), "get_extra_info", None)
        if not name.endswith(".complete") or get is None:
            return
        sock = get("socket")
        if isinstance(sock, socket.socket):
            with self._lock:
                self._sockets.append(sock)
                ended = self.reason is not None
            if ended:
                _shut(sock)

    def count(self, size: int) -> None:
        """``size`` more bytes of the reply arrived; `BoundExceeded` past a bound."""
        self.received += size
        if self.received > self.max_bytes:
            self.end(TOO_BIG)
        elif time.monotonic() >= self.deadline:
            self.end(TOO_LATE)
        self.check()

    def check(self) -> None:
        """`BoundExceeded` if the request has been ended."""
        if self.reason is not None:
            raise BoundExceeded(self.reason)

    def end(self, reason: str) -> None:
        """End the request now: its sockets shut down, any read on them returns."""
        with self._lock:
            self.reason = self.reason or reason
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing to end
        sock.shutdown(socket.SHUT_RDWR)


def guarded_transport(hx: Any, current: Callable[[], Guard | None],
                      proxy: str | None = None) -> Any:
    """An HTTP transport of the HTTP package ``hx`` (the one the ``openai`` client is built
    on), through ``proxy`` if given, that keeps no connection alive, asks for replies
    uncompressed (a compressed reply could unpack to far more than its bound) and bounds each
    request by ``current()``'s guard."""
    limits = hx.Limits(max_connections=100, max_keepalive_connections=0)
    inner = hx.HTTPTransport(limits=limits, proxy=proxy) if proxy else hx.HTTPTransport(
        limits=limits)

    class Body(hx.SyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, stream: Any, guard: Guard) -> None:
            self.stream, self.guard = stream, guard

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self.stream:
                self.guard.count(len(chunk))
                yield chunk

        def close(self) -> None:
            self.stream.close()

    class Transport(hx.BaseTransport):  # type: ignore[misc,name-defined]
        def handle_request(self, request: Any) -> Any:
            guard = current()
            if guard is None:
                return inner.handle_request(request)
            guard.check()
            request.extensions = {**request.extensions, "trace": guard.trace}
            request.headers["Accept-Encoding"] = "identity"
            response = inner.handle_request(request)
            response.stream = Body(response.stream, guard)
            if response.headers.get("Content-Encoding", "identity").lower() != "identity":
                response.close()
                guard.end(COMPRESSED)
                guard.check()
            return response

        def close(self) -> None:
            inner.close()

    return Transport()
