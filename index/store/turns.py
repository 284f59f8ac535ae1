"""A conversation's turn as both backends store it: one JSON document a turn."""

from __future__ import annotations

import json
import logging
from typing import Any

from index.store.values import Conversation, Span, Turn

log = logging.getLogger(__name__)


def encode(turn: Turn) -> str:
    """The turn as the JSON document stored for it."""
    return json.dumps({"question": turn.question, "read_as": turn.read_as,
                       "person": turn.person, "names": list(turn.names),
                       "shown": [list(s) for s in turn.shown], "quote": turn.quote,
                       "at": turn.at})


def decode(data: str) -> Turn | None:
    """A stored turn; None (logged) for one that cannot be read, which is then left out."""
    try:
        d: dict[str, Any] = json.loads(data)
        return Turn(str(d["question"]), str(d["read_as"]), d.get("person"),
                    tuple(str(n) for n in d.get("names", ())),
                    tuple(Span(str(a), int(p), int(s), int(e)) for a, p, s, e in d["shown"]),
                    str(d.get("quote") or ""), float(d["at"]))
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("left out a conversation turn that could not be read (%s)",
                    type(exc).__name__)
        return None


def conversation(conversation_id: str, collection: str, data: list[str],
                 updated_at: float) -> Conversation:
    """The conversation read from its stored turns (oldest first; unreadable ones left out)."""
    turns = tuple(t for t in map(decode, data) if t is not None)
    return Conversation(str(conversation_id), collection, turns, float(updated_at))


def last_dropped(appended: int, max_turns: int) -> int:
    """After turn number ``appended``, the turns numbered up to this one are dropped: only the
    last ``max_turns`` (at least one) are kept."""
    return appended - max(1, max_turns)
