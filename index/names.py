"""Bounds on the names a person chooses: a collection's name and a conversation's id.

Both are stored in every row they own and in the keys of indexes, where PostgreSQL refuses an
entry of more than about 2,700 bytes (SQLite takes anything): a name over its bound is refused
with one sentence, alike on both backends, before anything is stored.
"""

from __future__ import annotations

import re

from index.errors import NameTooLongError

_SURROGATE = re.compile("[\ud800-\udfff]")

COLLECTION_MAX = 128  # characters (up to 512 bytes in UTF-8)
CONVERSATION_MAX = 256  # characters; Discord's keys are under 64


def check_collection(name: str) -> str:
    """``name``, or NameTooLongError when it is over ``COLLECTION_MAX`` characters (or holds
    a character no backend can store)."""
    return _check(name, "A collection name", COLLECTION_MAX)


def check_conversation(key: str) -> str:
    """``key``, or NameTooLongError when it is over ``CONVERSATION_MAX`` characters (or holds
    a character no backend can store)."""
    return _check(key, "A conversation id", CONVERSATION_MAX)


def _check(name: str, what: str, limit: int) -> str:
    if len(name) > limit:
        raise NameTooLongError(f"{what} may have at most {limit} characters (this one has "
                               f"{len(name):,}); choose a shorter one.")
    if "\x00" in name or _SURROGATE.search(name):
        raise NameTooLongError(f"{what} may not contain NUL or unpaired surrogate characters; "
                               "choose another one.")
    return name
