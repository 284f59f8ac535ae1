"""Lexical search helpers: the FTS5 table name of a collection and the terms of a question."""

from __future__ import annotations

import hashlib
import re

_STOPWORDS = frozenset((
    "a an and are as at be been but by did do does for from had has have he her his how i "
    "in into is it its of on or she that the their them they this to was were what when "
    "where which who whom why will with would you your about after said say says "
).split())



def fts_name(collection: str) -> str:
    """The FTS5 table of a collection (a safe identifier derived from its name)."""
    return "fts_" + hashlib.sha256(collection.encode()).hexdigest()[:20]


def query_terms(text: str) -> list[str]:
    """Distinct content words of a question, for the FTS5 query (quoted, so never syntax)."""
    words = re.findall(r"\w+", text.lower())
    seen: dict[str, None] = {}
    for w in words:
        if w not in _STOPWORDS and (len(w) > 1 or w.isdigit()):
            seen.setdefault(w.replace('"', ""), None)
    return list(seen)[:64]
