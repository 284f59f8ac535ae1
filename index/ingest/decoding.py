"""Turning a fetched body into text: undoing its Content-Encoding, then choosing its charset.

Decompression (gzip, deflate, and brotli when a brotli that can cap its output is installed)
runs chunk by chunk with the output capped, so a small compressed bomb cannot fill memory. The
charset is, in order: a byte-order mark, an HTML page's own declaration (meta tag or XML prolog),
the Content-Type header's charset, then UTF-8 if the bytes are valid UTF-8, else a detected one.
"""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Callable
from functools import cache
from typing import Any

from index.errors import FetchError, TooLargeError, UnsupportedContentError
from index.ingest.files import guess_charset

_SNIFF_BYTES = 4096
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([\w.:-]+)", re.IGNORECASE)
_ODD_CODECS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"})


@cache
def _brotli() -> Any:
    """The brotli module if it is installed and usable here, else None."""
    try:
        import brotli  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    # Only brotli >= 1.2 can cap its output, which bomb protection needs.
    return brotli if hasattr(brotli.Decompressor(), "can_accept_more_data") else None


def accept_encoding() -> str:
    """The Accept-Encoding header value: exactly the encodings `decompressor` can undo."""
    return "gzip, deflate, br" if _brotli() else "gzip, deflate"


def decompressor(encoding: str | None, max_bytes: int) -> Callable[[bytes], bytes]:
    """A function that undoes the Content-Encoding `encoding` one chunk at a time.

    It raises TooLargeError once its total output passes `max_bytes`, and FetchError for damaged
    data; an encoding it cannot undo raises UnsupportedContentError here, before any chunk.
    """
    undo = _undoer(encoding)
    brotli = _brotli()
    damaged = (zlib.error, brotli.error) if brotli else (zlib.error,)
    decoded = 0

    def decompress(chunk: bytes) -> bytes:
        nonlocal decoded
        room = max_bytes - decoded
        try:
            out = undo(chunk, room + 1)
        except damaged as exc:
            raise FetchError("The site sent a damaged compressed page.") from exc
        if len(out) > room:
            limit = f"citebot's limit of {max_bytes:,} bytes"
            raise TooLargeError(f"The page is larger once decompressed than {limit}.")
        decoded += len(out)
        return out

    return decompress


def _undoer(encoding: str | None) -> Callable[[bytes, int], bytes]:
    """A function (data, max_output) -> output that undoes `encoding` incrementally."""
    name = (encoding or "identity").strip().lower()
    if name in ("", "identity"):
        return lambda data, _limit: data
    if name in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(zlib.MAX_WBITS | (32 if name != "deflate" else 0))
        return lambda data, limit: inflater.decompress(data, limit)
    brotli = _brotli()
    if name == "br" and brotli is not None:
        state = brotli.Decompressor()
        return lambda data, limit: bytes(state.process(data, output_buffer_limit=limit))
    shown = name[:30]
    raise UnsupportedContentError(
        f"The site compressed the page as {shown!r}, which is unsupported."
    )


def pick_charset(body: bytes, header_charset: str | None, content_type: str) -> str:
    """The Python codec to decode `body` with (order: module docstring)."""
    boms = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"))
    for bom, name in (*boms, (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return name
    declared = _declared_charset(body[:_SNIFF_BYTES]) if content_type == "text/html" else None
    return _codec(declared) or _codec(header_charset) or _guessed(body)


def _declared_charset(head: bytes) -> str | None:
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    if match is None:
        return None
    name = match.group(1).decode("ascii", errors="replace").lower()
    # A declaration readable as ASCII cannot really be UTF-16/32; the HTML standard says UTF-8.
    return "utf-8" if name.startswith(("utf-16", "utf-32")) else name


def _codec(name: str | None) -> str | None:
    """The Python codec for a charset label, or None if unknown or not a text encoding."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name).name
        b"".decode(codec)
    except LookupError:
        return None
    return None if codec in _ODD_CODECS else codec


def _guessed(body: bytes) -> str:
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return _codec(guess_charset(body)) or "utf-8"
