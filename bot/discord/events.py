"""Surviving gateway events that discord.py cannot parse.

discord.py turns each gateway event into objects in a parser (`ConnectionState.parse_*`),
called straight from the websocket's receive loop: one payload it does not expect (a component
interaction whose message carries `"thread": null` raises a TypeError) ends that loop, and with
it `Client.connect`. `guard_parsers` wraps every parser so that a failure drops that one event
instead; `DroppedEvents` counts what was dropped and keeps the log readable under a flood: the
first failure of each kind is logged with its traceback, later ones only in a status line at
10, 100, 1000, ... events.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Parser = Callable[[Any], None]


class DroppedEvents:
    """How many gateway events were dropped, by kind ("EVENT/ExceptionType")."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self._next_status = 10

    @property
    def count(self) -> int:
        return self.kinds.total()

    def record(self, event: str, exc: BaseException) -> None:
        """Count a dropped event; log it if it is the first of its kind, and the status line
        when the count reaches the next power of ten."""
        kind = f"{event}/{type(exc).__name__}"
        self.kinds[kind] += 1
        if self.kinds[kind] == 1:
            log.error("dropped a gateway event citebot could not handle: %s (%s: %s); more "
                      "like it are counted, not logged", event, type(exc).__name__, exc,
                      exc_info=exc)
        if self.count >= self._next_status:
            self._next_status *= 10
            log.warning("%s", self.status())

    def status(self) -> str:
        kinds = ", ".join(f"{kind} {n}" for kind, n in self.kinds.most_common())
        return f"{self.count} malformed gateway event(s) dropped so far ({kinds})"


def guard_parsers(parsers: dict[str, Parser], dropped: DroppedEvents) -> None:
    """Make every parser in `parsers` (event name -> parser, changed in place) drop an event
    it fails on, recording it in `dropped`, instead of raising into the receive loop."""
    for event, parse in parsers.items():
        parsers[event] = _guarded(event, parse, dropped)


def _guarded(event: str, parse: Parser, dropped: DroppedEvents) -> Parser:
    def guarded(data: Any) -> None:
        try:
            parse(data)
        except Exception as exc:  # anything: the alternative is losing the connection
            dropped.record(event, exc)

    return guarded
