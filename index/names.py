"""The rules for the names a person chooses: a collection's name and a conversation's id,
checked up front by every interface and by the core, alike on both backends.

A collection's name becomes a folder name in the data directory and a key in PostgreSQL's
indexes, so it is bounded in bytes as stored (UTF-8), not in characters: 64 bytes are 64 ASCII
letters but only 16 letters of four bytes each. It holds letters and digits of any script,
spaces inside, and ``-``, ``_`` and ``.``; nothing that a terminal or a file system would read
as more. A conversation's id is only stored, in every row of the conversation and in index
keys, where PostgreSQL refuses an entry of more than about 2,700 bytes (SQLite takes
anything): it is bounded in characters and may not hold what no backend stores.
"""

from __future__ import annotations

import re

from index.errors import InvalidNameError

MAX_COLLECTION_BYTES = 64
CONVERSATION_MAX = 256  # characters; Discord's keys are under 64
_MARKS = frozenset(" -_.")
_SURROGATE = re.compile("[\ud800-\udfff]")
RULE = (f"1 to {MAX_COLLECTION_BYTES} bytes of UTF-8 (64 ASCII letters, fewer of other "
        "scripts): letters, digits, spaces inside, '-', '_' and '.'")


def check_collection(name: str) -> str:
    """``name`` if it may name a collection; InvalidNameError saying the rule otherwise."""
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > MAX_COLLECTION_BYTES:
        raise InvalidNameError(
            f"The collection name is {size:,} bytes in UTF-8, and one may have at most "
            f"{MAX_COLLECTION_BYTES}; a collection name is {RULE}.")
    if not name.strip():
        raise InvalidNameError(f"The collection name is empty; a collection name is {RULE}.")
    wrong = next((c for c in name if not (c.isalnum() or c in _MARKS)), None)
    if wrong is not None or name != name.strip():
        what = f"{wrong!r}" if wrong is not None else "a space at an end"
        raise InvalidNameError(f"The collection name holds {what}; a collection name is "
                               f"{RULE}.")
    return name


def check_conversation(key: str) -> str:
    """``key``, or InvalidNameError when it is over ``CONVERSATION_MAX`` characters or holds
    a character no backend can store (NUL, an unpaired surrogate)."""
    if len(key) > CONVERSATION_MAX:
        raise InvalidNameError(f"A conversation id may have at most {CONVERSATION_MAX} "
                               f"characters (this one has {len(key):,}); choose a shorter one.")
    if "\x00" in key or _SURROGATE.search(key):
        raise InvalidNameError("A conversation id may not contain NUL or unpaired surrogate "
                               "characters; choose another one.")
    return key
