"""Text bound for a terminal: article text is data, and some of it is escape sequences.

A page or a file may hold control characters that a terminal obeys (set the window title,
write the clipboard, clear the screen). Storage and JSON keep them verbatim; what citebot prints
for a person shows them as visible escapes instead, and JSON escapes the ones that JSON allows
raw (C1 controls, bidirectional overrides, line separators).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from index.errors import BlockedURLError

# C0 but tab and newline, DEL, C1, the bidirectional marks that reorder what is shown, and
# lone surrogates (bytes of another encoding in an argument), which no encoding can print
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                     "\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``)."""
    return _UNSAFE.sub(_escape, text)


def to_json(value: object, *, indent: int | None = None) -> str:
    """JSON of ``value`` (non-ASCII kept) in which no string holds a raw control character;
    the values decode exactly as they were."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def say(text: str, file: TextIO | None = None) -> None:
    """Print a line for a person (stdout by default), control characters escaped."""
    print(printable(text), file=file or sys.stdout)


def complain(text: str) -> None:
    """Print ``citebot: text`` on stderr, control characters escaped."""
    say(f"citebot: {text}", sys.stderr)


@contextmanager
def progress(total: int | None, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal; silent when stderr is piped."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=label, unit="article", file=sys.stderr) as bar:
        yield bar.update


def for_operator(exc: BaseException) -> str:
    """A core error as the command line says it: its sentence, and for a refusal a setting
    can lift, that setting (Discord members get the sentence alone, bot/discord/explain.py)."""
    seen: BaseException | None = exc
    for _ in range(8):  # the error, or one it was raised from
        if seen is None:
            break
        if isinstance(seen, BlockedURLError) and seen.allowed_by:
            return f"{exc} To allow it, set {seen.allowed_by} (in the environment or .env)."
        seen = seen.__cause__ or seen.__context__
    return str(exc)
