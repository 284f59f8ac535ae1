"""A feed's fields as plain text every store accepts, in time linear in their size.

- `storable`: no lone surrogates (half an emoji, cut by a careless CMS: SQLite and PostgreSQL
  refuse to encode them; each becomes U+FFFD) and no control characters but tab and line ends
  (PostgreSQL refuses NUL).
- `paragraphs`: HTML to plain paragraphs with a small scanner of its own. The standard
  library's HTMLParser takes quadratic time on unclosed tags (`<a <a <a ...`), which a feed
  can send in any field; here each character is looked at a bounded number of times.
- `checked_date`: a date only when the feed's text is a real one (no month 13, no day 45, no
  hour 99, no five-digit year): parsers normalise those into other, wrong dates.
"""

from __future__ import annotations

import re
import time
from datetime import date
from html import unescape

_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]|([\ud800-\udfff])")
_MARKUP = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:_-]{0,63})(?=[\s/>])|<!--|<[!?/]")
# The rest of a tag after its name: quoted values may hold ">". Possessive: no backtracking.
_TAG_REST = re.compile(r"""(?:[^>"']|"[^"]*"|'[^']*')*+>""")
_BLOCKS = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
                     "tr", "section", "article", "pre", "ul", "ol", "table", "figure", "hr"})
_SKIPPED = frozenset({"script", "style", "figcaption", "noscript", "template"})
_ISO = re.compile(r"\s*(\d+)-(\d+)-(\d+)(?:[Tt ]+(\d+):(\d+)(?::(\d+))?)?")
_RFC822 = re.compile(r"(?:[A-Za-z]+,?\s*)?(\d+)\s+([A-Za-z]+)\.?,?\s+(\d+)"
                     r"(?:\s+(\d+):(\d+)(?::(\d+))?)?")
_MONTHS = {m: n for n, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
                                       "sep", "oct", "nov", "dec"), 1)}


def storable(text: str) -> str:
    """`text` with lone surrogates as U+FFFD and control characters (but tab, newline) gone."""
    return _UNSTORABLE.sub(lambda m: "\ufffd" if m.group(1) else "", text)


def tokens(html: str) -> list[tuple[str, str]]:
    """The HTML as ("text", decoded text), ("start", tag name) and ("end", tag name) tokens;
    comments, declarations and processing instructions are dropped."""
    out: list[tuple[str, str]] = []
    pos, quoted = 0, True
    while (match := _MARKUP.search(html, pos)) is not None:
        if match.start() > pos:
            out.append(("text", unescape(html[pos:match.start()])))
        if match.group() == "<!--":
            end = html.find("-->", match.end())
            pos = len(html) if end < 0 else end + 3
            continue
        rest = _TAG_REST.match(html, match.end()) if quoted else None
        if rest is None:  # an unbalanced quote: from here on, a tag ends at its first ">"
            quoted = False
            end = html.find(">", match.end())
            if end < 0:  # never closed: text, as HTMLParser has it ("5 <b 6", "x <y z")
                out.append(("text", unescape(html[match.start():])))
                return out
            pos = end + 1
        else:
            pos = rest.end()
        if match.group(2):
            out.append(("end" if match.group(1) else "start", match.group(2).lower()))
    if pos < len(html):
        out.append(("text", unescape(html[pos:])))
    return out


def paragraphs(html: str) -> str:
    """HTML (or plain text) as paragraphs separated by blank lines."""
    if "<" not in html:
        return unescape(html).strip()
    parts: list[str] = []
    skipping = 0
    for kind, value in tokens(html):
        if kind == "text":
            if not skipping:
                parts.append(value)
        elif value in _SKIPPED:
            skipping = skipping + 1 if kind == "start" else max(0, skipping - 1)
        elif value in _BLOCKS:
            parts.append("\n\n")
    blocks = "".join(parts).split("\n\n")
    return "\n\n".join(" ".join(b.split()) for b in blocks if b.strip())


def line(html: str, limit: int) -> str:
    """A field as one line of plain text of at most `limit` characters; the markup is cut
    (to a bounded multiple of `limit`) before it is read."""
    return " ".join(paragraphs(html[:limit * 8]).split())[:limit]


def checked_date(text: str, parsed: time.struct_time | None = None) -> str | None:
    """"YYYY-MM-DD" from `parsed` (a parser's reading of `text`), or from `text` itself when
    it starts with an ISO date; None when the text holds an impossible date."""
    iso = _ISO.match(text)
    rfc = None if iso else _RFC822.match(text.strip())
    fields = _iso_fields(iso) if iso else _rfc_fields(rfc) if rfc else None
    if fields is False:
        return None
    if parsed is not None:
        return f"{parsed.tm_year:04d}-{parsed.tm_mon:02d}-{parsed.tm_mday:02d}" if (
            1 <= parsed.tm_year <= 9999) else None
    if iso is None or not isinstance(fields, tuple):
        return None
    return f"{fields[0]:04d}-{fields[1]:02d}-{fields[2]:02d}"


def _iso_fields(match: re.Match[str]) -> tuple[int, int, int] | bool:
    year, month, day = match.group(1, 2, 3)
    if len(year) != 4 or len(month) > 2 or len(day) > 2:
        return False
    return _valid(int(year), int(month), int(day), match.group(4, 5, 6))


def _rfc_fields(match: re.Match[str] | None) -> tuple[int, int, int] | bool | None:
    if match is None:
        return None
    day, name, year = match.group(1, 2, 3)
    month = _MONTHS.get(name[:3].lower())
    if month is None or len(name) > 9:
        return None  # a language feedparser may know and this does not: no verdict
    if len(year) not in (2, 4) or len(day) > 2:
        return False
    full = int(year) + (1900 if int(year) >= 70 else 2000) * (len(year) == 2)
    return _valid(full, month, int(day), match.group(4, 5, 6))


def _valid(year: int, month: int, day: int,
           clock: tuple[str | None, ...]) -> tuple[int, int, int] | bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    hour, minute, second = (int(x) if x is not None else 0 for x in clock)
    if any(x is not None and len(x) > 2 for x in clock):
        return False
    if hour > 24 or minute > 59 or second > 60:
        return False
    return (year, month, day)
