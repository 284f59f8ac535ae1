"""The rule for collection names, checked up front by every interface.

A collection's name becomes a folder name in the data directory (and a key in PostgreSQL), so
it is bounded in bytes as stored (UTF-8), not in characters: 64 bytes are 64 ASCII letters but
only 16 letters of four bytes each. It holds letters and digits of any script, spaces inside,
and ``-``, ``_`` and ``.``; nothing that a terminal or a file system would read as more.
"""

from __future__ import annotations

from index.errors import CitebotError

MAX_COLLECTION_BYTES = 64
_MARKS = frozenset(" -_.")
RULE = (f"1 to {MAX_COLLECTION_BYTES} bytes of UTF-8 (64 ASCII letters, fewer of other "
        "scripts): letters, digits, spaces inside, '-', '_' and '.'")


def check_collection(name: str) -> str:
    """``name`` if it may name a collection; CitebotError saying the rule otherwise."""
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > MAX_COLLECTION_BYTES:
        raise CitebotError(f"The collection name is {size} bytes in UTF-8, over the limit of "
                           f"{MAX_COLLECTION_BYTES} bytes; a collection name is {RULE}.")
    if not name.strip():
        raise CitebotError(f"The collection name is empty; a collection name is {RULE}.")
    wrong = next((c for c in name if not (c.isalnum() or c in _MARKS)), None)
    if wrong is not None or name != name.strip():
        what = f"{wrong!r}" if wrong is not None else "a space at an end"
        raise CitebotError(f"The collection name holds {what}; a collection name is {RULE}.")
    return name
