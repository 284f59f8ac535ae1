"""Being a polite client: one request at a time per host, a bound on requests across the
process, and when to poll a feed next (its interval with jitter, what the feed and the server
ask for, exponential backoff after failures)."""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urlsplit

from index.ingest.headers import retry_after

_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d{1,9})", re.IGNORECASE)
_MAX_HOSTS = 10_000  # locks kept for idle hosts before they are forgotten
JITTER = 0.1  # a poll comes up to 10% later than its interval, never earlier


def host_of(url: str) -> str:
    """The host a URL names (lower case; "" when it has none)."""
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""


class HostGate:
    """At most one request at a time to each host, and at most `concurrency` at once in all.

    A caller waits for its host first, then for a slot: a request queued behind its own host
    never holds a slot another host could use."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)
        self._hosts: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, url: str) -> Iterator[None]:
        host = host_of(url)
        with self._guard:
            if len(self._hosts) > _MAX_HOSTS:
                self._hosts = {h: lock for h, lock in self._hosts.items() if lock.locked()}
            lock = self._hosts.setdefault(host, threading.Lock())
        with lock, self._slots:
            yield


def max_age(cache_control: str | None) -> float | None:
    """The seconds a Cache-Control header says the response stays fresh, if it says."""
    match = _MAX_AGE.search(cache_control or "")
    return float(match.group(1)) if match else None


def next_poll(now: float, *, interval: float, max_interval: float, failures: int,
              ttl_s: float | None = None, headers: Mapping[str, str] | None = None,
              at_least: float | None = None, rng: random.Random | None = None) -> float:
    """When to poll a feed next: its interval, doubled for every failure in a row; no sooner
    than the feed's ttl, the response's max-age or Retry-After, or `at_least` seconds (what a
    refusal's Retry-After said); capped at `max_interval`;
    then up to JITTER later, so that feeds added together drift apart."""
    headers = headers or {}
    wait = interval * 2 ** min(failures, 30)
    for hint in (ttl_s, max_age(headers.get("cache-control")),
                 retry_after(headers.get("retry-after")), at_least):
        if hint is not None:
            wait = max(wait, hint)
    wait = min(wait, max_interval)
    return now + wait * (1.0 + JITTER * (rng or random).random())
