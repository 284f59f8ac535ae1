"""Reading article files: which kinds are accepted, size and type checks, and decoding.

``FILE_KINDS`` is the one table of accepted files (the command line and Discord uploads both
read it). Bytes become text by byte-order mark, UTF-8, UTF-16 without a mark, or the charset
``guess_charset`` detects (which the URL fetcher uses too).
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path, PurePath

from index.errors import ArticleError, ExtractionError, TooLargeError, UnsupportedContentError

#: Accepted article files, by suffix: read as "html" (extracted) or "text" (first line = title).
FILE_KINDS = {".html": "html", ".htm": "html", ".xhtml": "html",
              ".txt": "text", ".text": "text", ".md": "text", ".markdown": "text"}


def file_kind(name: str | PurePath) -> str:
    """"html" or "text" for an accepted file name; UnsupportedContentError otherwise (a name
    without a suffix is read as text)."""
    suffix = PurePath(name).suffix.lower()
    if not suffix:
        return "text"
    if suffix not in FILE_KINDS:
        raise UnsupportedContentError(
            f"{PurePath(name).name} is not a {', '.join(sorted(FILE_KINDS))} file; "
            "convert it first.")
    return FILE_KINDS[suffix]


def read_limited(path: Path, limit: int) -> bytes:
    """A regular file's bytes, refusing (before reading) one larger than the limit, and
    anything that is not a regular file (a FIFO or a device would block or never end)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ArticleError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)  # open() would refuse a folder with a bare IsADirectoryError
        what = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise ArticleError(f"{path} is {what}; citebot reads files and standard input ('-').")
    with open(fd, "rb", closefd=True) as fh:
        if info.st_size > limit:
            raise TooLargeError(
                f"{path.name} is {info.st_size:,} bytes, over the limit of {limit:,}; "
                "split it or raise CITEBOT_MAX_ARTICLE_BYTES.")
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise ArticleError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise TooLargeError(f"{path.name} is over the limit of {limit:,} bytes.")
    return data


_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
         (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def decode(data: bytes) -> str:
    """Text from bytes: by byte-order mark, UTF-8, UTF-16 without a mark (told by its zero
    bytes), else a detected charset. Binary data is refused, and never echoed."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _decoded(data, codec)
    text: str | None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        utf16 = _utf16_without_bom(data)
        if utf16 is not None:
            return _decoded(data, utf16)
    if text is None:
        text = _detected(data)
    if "\x00" in text:
        raise ExtractionError("This looks like a binary file, not text.")
    return text


def _utf16_without_bom(data: bytes) -> str | None:
    """"utf-16-le" or "-be" when most even or odd bytes are zero (ASCII-range text), else None."""
    sample = data[:4096]
    if len(data) % 2 or len(sample) < 4:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    if odd >= 0.6 * half and even < 0.1 * half:
        return "utf-16-le"
    if even >= 0.6 * half and odd < 0.1 * half:
        return "utf-16-be"
    return None


def _decoded(data: bytes, codec: str) -> str:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        raise ExtractionError(f"The file is not valid {codec.upper()} text.") from None
    if "\x00" in text:
        raise ExtractionError("This looks like a binary file, not text.")
    return text


def _detected(data: bytes) -> str:
    """Text in the charset detected as most likely (Latin-1 if none)."""
    if b"\x00" in data:
        raise ExtractionError("This looks like a binary file, not text.")
    return data.decode(guess_charset(data) or "latin-1", errors="replace")


def guess_charset(data: bytes) -> str | None:
    """The Python codec charset-normalizer finds most likely for these bytes (the first
    200 KB), or None."""
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    if best is None:
        return None
    try:
        return codecs.lookup(best.encoding).name
    except LookupError:
        return None
