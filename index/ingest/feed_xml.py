"""A feed document made safe to hand to feedparser: re-encoded as UTF-8, its prolog rebuilt
with nothing but an XML declaration, and cut after its first entries.

The prolog (everything before the root element) is where a DOCTYPE may declare entities, and
where a naive cut is fooled: a comment or a processing instruction holding "<a" looks like the
root element, and feedparser's own cut reads declarations even inside comments. So the prolog
is walked construct by construct (comments, processing instructions, CDATA, declarations with
their internal subset, quoted strings and nested comments included), in linear time, and
nothing of it is kept. It is read after re-encoding, so a UTF-16 or UTF-32 document is no
disguise. What is left has no DOCTYPE before its root, and a DOCTYPE anywhere after it is not
well-formed: feedparser's strict parser stops, and its lenient one expands no declared entity.

Entries are counted by their start tags (`<item>`, `<item/>`, `<entry ...>`, with or without a
namespace prefix), so entries that close themselves count too; the document is cut before the
first one past the limit, or before the first one that would take the document past a budget
of markup (tags, attributes and character references, where a parser spends its time), so
that a poll's time is bounded whatever the bytes hold; an element with hundreds of attributes
(quadratic in the standard library's SAX layer) is refused. A document over the budget by
the end of its first entry is not read.
"""

from __future__ import annotations

import re

from index.errors import FeedError

DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>\n"
# Tags and character references parsed from one document: feedparser spends up to ~50 us on
# each (an HTML tag in an entry is parsed again to sanitize it), so this bounds a poll to
# seconds whatever the document; 200 an entry for 500 entries.
MAX_MARKUP = 100_000
# Attributes of one element: the standard library's SAX layer, which feedparser reads XML
# through, looks each one up in a list of them all (quadratic: 20,000 take 12 s).
MAX_ATTRIBUTES = 200
_ROOT = re.compile(rb"<[A-Za-z_]")  # a name start feedparser's own cut (`<\w`) agrees with
_IN_DECLARATION = re.compile(rb"[\"'\[\]>]|<!--|<\?")
_ENTRY_START = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)(?=[\s/>])", re.IGNORECASE)
# An element with MAX_ATTRIBUTES "=" before the next "<" (">" may sit in a quoted value, "<"
# may not); "[^<=]*=" cannot backtrack, and each try stops at the next "<": linear.
_CROWDED = re.compile(rb"<[A-Za-z_](?:[^<=]*=){%d}" % MAX_ATTRIBUTES)
_ROOT_CLOSERS = ((b"<rss", b"</channel></rss>"), (b"<feed", b"</feed>"),
                 (b"<rdf:rdf", b"</rdf:RDF>"))


def prepared(body: bytes, url: str, max_entries: int) -> tuple[bytes, bool]:
    """(the document to parse, whether entries were cut off: past `max_entries`, or past the
    markup budget); FeedError when it has no root element or its first entry is over budget."""
    utf8 = _utf8(body, url)
    root = root_start(utf8)
    if root is None:
        raise FeedError("That address does not hold an RSS, Atom or JSON feed citebot can read.")
    document, truncated = _bounded(DECLARATION + utf8[root:], max_entries)
    if _CROWDED.search(document):
        raise FeedError(f"That feed has an element with {MAX_ATTRIBUTES} or more attributes, "
                        "which citebot does not read.")
    return document, truncated


def _utf8(body: bytes, url: str) -> bytes:
    """The document in UTF-8, decoded exactly as feedparser would decode it (byte-order mark,
    declared encoding, then its fallbacks), with a declaration saying UTF-8."""
    from feedparser.encodings import convert_to_utf8

    result: dict[str, object] = {"bozo": False, "headers": {}}
    converted = convert_to_utf8({"content-location": url}, body, result)
    return converted if isinstance(converted, bytes) else body


def root_start(doc: bytes) -> int | None:
    """Where the root element starts, past every construct of the prolog; None if nowhere."""
    pos, end = 0, len(doc)
    while pos < end:
        lt = doc.find(b"<", pos)
        if lt < 0:
            return None
        if doc.startswith(b"<!--", lt):
            pos = _after(doc, b"-->", lt + 4)
        elif doc.startswith(b"<?", lt):
            pos = _after(doc, b"?>", lt + 2)
        elif doc.startswith(b"<![CDATA[", lt):
            pos = _after(doc, b"]]>", lt + 9)
        elif doc.startswith(b"<!", lt):
            pos = _declaration_end(doc, lt + 2)
        elif _ROOT.match(doc, lt):
            return lt
        else:
            pos = lt + 1
    return None


def _after(doc: bytes, closer: bytes, start: int) -> int:
    found = doc.find(closer, start)
    return len(doc) if found < 0 else found + len(closer)


def _declaration_end(doc: bytes, pos: int) -> int:
    """Just past the ">" that ends a declaration such as a DOCTYPE: not one inside quotes,
    a comment, a processing instruction or the [internal subset]."""
    depth = 0
    while (match := _IN_DECLARATION.search(doc, pos)) is not None:
        token, pos = match.group(), match.end()
        if token in (b'"', b"'"):
            pos = _after(doc, token, pos)
        elif token == b"<!--":
            pos = _after(doc, b"-->", pos)
        elif token == b"<?":
            pos = _after(doc, b"?>", pos)
        elif token == b"[":
            depth += 1
        elif token == b"]":
            depth = max(0, depth - 1)
        elif depth == 0:
            return pos
    return len(doc)  # never closed: nothing after it is a feed


def _bounded(doc: bytes, max_entries: int) -> tuple[bytes, bool]:
    """The document cut before its entry number `max_entries` + 1, or before the first entry
    that would take it past MAX_MARKUP (and closed again); whether it was cut."""
    used, previous, kept, count = 0, 0, None, 0  # kept: the last cut within the budget
    for count, match in enumerate(_ENTRY_START.finditer(doc), 1):
        used += _markup(doc, previous, match.start())
        previous = match.start()
        if used > MAX_MARKUP:
            return _cut(doc, kept), True
        if count > max_entries:
            return _cut(doc, match.start()), True
        kept = match.start() if count > 1 else None  # keeps entries 1 .. count - 1
    if used + _markup(doc, previous, len(doc)) > MAX_MARKUP:
        return _cut(doc, previous if count > 1 else None), True  # without the last entry
    return doc, False


def _markup(doc: bytes, start: int, end: int) -> int:
    """Tags, attributes and character references in doc[start:end] (what a parser spends
    its time on), counted by their "<", "=" and "&"."""
    return sum(doc.count(c, start, end) for c in (b"<", b"=", b"&"))


def _cut(doc: bytes, at: int | None) -> bytes:
    if at is None:
        raise FeedError(f"That feed holds more markup than citebot reads ({MAX_MARKUP:,} tags "
                        "and character references) by the end of its first entry, so it is not "
                        "read.")
    head = doc[:4096].lower()
    closer = next((c for tag, c in _ROOT_CLOSERS if tag in head), b"")
    return doc[:at] + closer
