"""Reading feeds, and finding a page's feed. Pure: bytes in, small frozen values out.

RSS 0.9x, 1.0 and 2.0 and Atom are read by feedparser (the maintained reference parser: it
knows the dozens of date formats, namespaces, CDATA, relative links and entity habits of real
feeds, and recovers what it can from a broken one); JSON Feed 1.0/1.1 is plain JSON, read here.

Hostile XML gets nowhere, by several layers, each enough on its own for what it guards:
- the body is handed to feedparser as a stream, never as a string or bytes, which it would
  otherwise try as a URL or a file name to open;
- the prolog is rebuilt with nothing but an XML declaration (``feed_xml``), so no DOCTYPE and
  no declared entity exists to expand, wherever it hid; expat limits entity amplification, and
  external entities are off in feedparser's SAX parser;
- only the first MAX_ENTRIES entries of the document, within a budget of markup, are parsed
  (the rest is cut at an entry boundary, before parsing), and the bytes were capped by the
  fetcher, decoded too;
- every field is cut before it is read, read in linear time and made storable (``feed_text``).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import urljoin

from index.errors import FeedError
from index.ingest.feed_text import checked_date, line, paragraphs, storable
from index.ingest.feed_xml import prepared
from index.text import fold

MAX_ENTRIES = 500  # entries read from one document; later ones are not parsed at all
FULL_TEXT_WORDS = 150  # an entry with this much content is the article, not a teaser
TITLE_CHARS = 300
AUTHOR_CHARS = 200
SUMMARY_CHARS = 2_000
ID_CHARS = 1_000
LINK_CHARS = 4_000  # a longer link is no link
CONTENT_CHARS = 2_000_000  # longer entry content is not used: the entry's page is fetched
MAX_JSON_OBJECTS = 50_000  # objects built from a JSON Feed (100 an entry for 500 entries)
FEED_TYPES = frozenset({
    "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml",
    "text/xml", "application/feed+json", "application/json", "text/html",
    "application/xhtml+xml", "text/plain", "application/octet-stream",
})
FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
               "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, "
               "text/html;q=0.5, */*;q=0.1")
_ALTERNATE_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json",
                    "application/json", "application/rdf+xml")
# A tag in a page's head; "[^<>]*" keeps each attempt within one tag (linear time).
_HEAD_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]{0,20})\b([^<>]*)>")
_ATTRIBUTE = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a feed, as plain values."""

    guid: str | None
    link: str | None  # absolute, as the feed gives it (not yet canonical)
    title: str
    published: str | None  # "YYYY-MM-DD"
    author: str | None
    summary: str  # plain text
    content: str | None  # the full text as plain paragraphs, when the entry carries it

    @property
    def fingerprint(self) -> str:
        """A hash of what the entry says (title, summary, content), for noticing a change."""
        text = "\n".join(fold(x) for x in (self.title, self.summary, self.content or ""))
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ParsedFeed:
    """A feed: its own title and link, its entries (document order) and its ttl if any."""

    kind: str  # feedparser's version ("rss20", "atom10", ...) or "json"
    title: str | None
    link: str | None
    entries: tuple[FeedEntry, ...]
    ttl_s: float | None = None
    truncated: bool = False  # more than MAX_ENTRIES entries; the rest were not read


def parse_feed(body: bytes, url: str) -> ParsedFeed:
    """The feed in `body` (fetched from `url`, which relative links are resolved against);
    FeedError if it is not a feed."""
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return _parse_json(body, url)
    return _parse_xml(body, url)


def looks_like_html(body: bytes, media_type: str) -> bool:
    """Whether a fetched body is a web page (to look for its feed) rather than a feed."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return media_type in ("text/html", "application/xhtml+xml") or head.startswith(
        (b"<!doctype html", b"<html"))


# -- XML --------------------------------------------------------------------------------------


def _parse_xml(body: bytes, url: str) -> ParsedFeed:
    import feedparser  # imported here: it is only needed once a feed arrives

    safe, truncated = prepared(body, url, MAX_ENTRIES)
    result = feedparser.parse(io.BytesIO(safe), response_headers={"content-location": url},
                              sanitize_html=True, resolve_relative_uris=True)
    entries = tuple(_entry(e, url) for e in result.entries[:MAX_ENTRIES])
    feed = result.get("feed", {})
    if not result.get("version") and not entries:
        raise FeedError("That address does not hold an RSS, Atom or JSON feed citebot can read.")
    ttl = _number(feed.get("ttl"))
    return ParsedFeed(result.get("version") or "xml", _line(feed.get("title"), TITLE_CHARS),
                      _absolute(feed.get("link"), url), entries,
                      ttl * 60 if ttl else None, truncated)


def _entry(raw: Any, base: str) -> FeedEntry:
    content = raw.get("content") or []
    full = max((_content(c.get("value")) for c in content), key=len, default="")
    summary = _line(raw.get("summary"), SUMMARY_CHARS) or ""
    if not full and len(summary.split()) >= FULL_TEXT_WORDS:
        full = _content(raw.get("summary"))
    # dict.get: feedparser's own get() maps "updated" to "published" with a warning
    stamp = _string(dict.get(raw, "published")) or _string(dict.get(raw, "updated"))
    parsed = dict.get(raw, "published_parsed") or dict.get(raw, "updated_parsed")
    return FeedEntry(
        guid=_clip(raw.get("id"), ID_CHARS) or None, link=_absolute(raw.get("link"), base),
        title=_line(raw.get("title"), TITLE_CHARS) or "",
        published=checked_date(stamp[:200], parsed) if parsed else None,
        author=_line(raw.get("author"), AUTHOR_CHARS), summary=summary,
        content=full if len(full.split()) >= FULL_TEXT_WORDS else None)


# -- JSON Feed --------------------------------------------------------------------------------


def _parse_json(body: bytes, url: str) -> ParsedFeed:
    try:
        data = _json(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FeedError("That feed is not valid JSON, so citebot cannot read it.") from None
    version = data.get("version") if isinstance(data, dict) else None
    if not (isinstance(version, str) and "jsonfeed.org" in version):
        raise FeedError("That address holds JSON, but not a JSON Feed citebot can read.")
    items = data.get("items") if isinstance(data.get("items"), list) else []
    base = _absolute(data.get("feed_url"), url) or url
    entries = tuple(_json_entry(item, base) for item in items[:MAX_ENTRIES]
                    if isinstance(item, dict))
    return ParsedFeed("json", _clip(data.get("title"), TITLE_CHARS) or None,
                      _absolute(_string(data.get("home_page_url")), url), entries,
                      truncated=len(items) > MAX_ENTRIES)


def _json(text: str) -> Any:
    """The JSON document, with objects past the first MAX_JSON_OBJECTS left out (None), so
    that memory follows what is read, not what was sent; the top-level object is always
    kept (it completes last: the last object seen)."""
    built = itertools.count()
    last: list[list[tuple[str, Any]]] = [[]]

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any] | None:
        last[0] = pairs
        return dict(pairs) if next(built) < MAX_JSON_OBJECTS else None

    data = json.loads(text, object_pairs_hook=hook)
    return dict(last[0]) if data is None and last[0] else data


def _json_entry(item: dict[str, Any], base: str) -> FeedEntry:
    html, text = _string(item.get("content_html")), _string(item.get("content_text"))
    full = _content(html) if html else storable(text[:CONTENT_CHARS + 1]).strip()
    full = full if len(text) <= CONTENT_CHARS else ""
    summary = _clip(item.get("summary"), SUMMARY_CHARS) or " ".join(full.split()[:60])
    authors: list[Any] = item["authors"] if isinstance(item.get("authors"), list) else [
        item.get("author")]
    author = next((_string(a.get("name")) for a in authors if isinstance(a, dict)), "")
    date = _string(item.get("date_published")) or _string(item.get("date_modified"))
    return FeedEntry(
        guid=_clip(_string(item.get("id")) or _number_text(item.get("id")), ID_CHARS) or None,
        link=_absolute(_string(item.get("url")) or _string(item.get("external_url")), base),
        title=_line(item.get("title"), TITLE_CHARS) or "",
        published=checked_date(date[:200]) if date else None,
        author=_clip(author, AUTHOR_CHARS) or None, summary=_clip(summary, SUMMARY_CHARS),
        content=full if len(full.split()) >= FULL_TEXT_WORDS else None)


# -- discovery --------------------------------------------------------------------------------


def discover(html: str, base_url: str, limit: int = 5) -> list[str]:
    """The feeds a page announces in its head, absolute, in its order (at most `limit`)."""
    found: list[str] = []
    for kind, name, attrs in _head_links(html[:1_000_000]):  # the head is near the top
        if kind == "end" or name != "link":
            continue
        values = {m.group(1).lower(): unescape(m.group(m.lastindex or 1))
                  for m in _ATTRIBUTE.finditer(attrs)}
        rels = values.get("rel", "").lower().split()
        media = values.get("type", "").lower().split(";")[0].strip()
        if "alternate" in rels and media in _ALTERNATE_TYPES and values.get("href"):
            found.append(values["href"].strip())
    links = [urljoin(base_url, href) for href in found[:limit * 4]]
    return [u for u in dict.fromkeys(links) if u.lower().startswith(("http://", "https://"))][
        :limit]


def _head_links(html: str) -> Iterator[tuple[str, str, str]]:
    """(start|end, tag name, attribute text) of the head's tags, until </head> or <body>."""
    opened, comment_end = html.find("<!--"), 0  # tags inside a comment are not tags
    for match in _HEAD_TAG.finditer(html):
        while 0 <= opened < match.start():  # each comment is found once: linear
            closed = html.find("-->", opened + 4)
            comment_end = len(html) if closed < 0 else closed + 3
            opened = html.find("<!--", comment_end) if closed >= 0 else -1
        if match.start() < comment_end:
            continue
        closing, name = bool(match.group(1)), match.group(2).lower()
        if (name == "head" and closing) or (name == "body" and not closing):
            return
        yield ("end" if closing else "start", name, match.group(3) or "")


# -- text -------------------------------------------------------------------------------------


def _paragraphs(html: str) -> str:
    """HTML (or plain text) as paragraphs separated by blank lines, storable."""
    return paragraphs(storable(html))


def _content(value: Any) -> str:
    """An entry's full text as paragraphs; "" when it is too long to be used as it is."""
    html = _string(value)
    return _paragraphs(html) if len(html) <= CONTENT_CHARS else ""


def _line(value: Any, limit: int) -> str | None:
    """A field as one line of plain text, cut before it is read."""
    return line(storable(_string(value)[:limit * 8]), limit) or None


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number_text(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


def _number(value: Any) -> float | None:
    try:
        number = float(str(value)[:50].strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 1e7 else None


def _clip(value: Any, limit: int) -> str:
    return " ".join(storable(_string(value)[:limit * 8]).split())[:limit]


def _absolute(link: Any, base: str) -> str | None:
    link = storable(_string(link)).strip()
    if not link or len(link) > LINK_CHARS:
        return None
    try:
        absolute = urljoin(base, link)
    except ValueError:  # a malformed host such as "http://[x"
        return None
    return absolute if absolute.lower().startswith(("http://", "https://")) else None
