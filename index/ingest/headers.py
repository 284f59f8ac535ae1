"""The few HTTP headers the fetcher passes between a server and its caller: the response
headers kept for caching and conditional requests, the values that may be sent back, and
Retry-After read as seconds."""

from __future__ import annotations

import email.utils
import time
from contextlib import suppress

#: Response headers a caller may need (caching and conditional requests), lower-case.
KEPT_HEADERS = ("etag", "last-modified", "cache-control", "expires", "retry-after")
#: Request headers a caller may add.
CONDITIONAL = ("If-None-Match", "If-Modified-Since")


def sendable(value: str) -> bool:
    """Whether a value a server gave may go back in a request header: one short line."""
    return 0 < len(value) <= 512 and value.isprintable()


def retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks to wait (a number of seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value[:9])
    with suppress(TypeError, ValueError, IndexError):
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is not None:
            return max(0.0, when.timestamp() - time.time())
    return None
