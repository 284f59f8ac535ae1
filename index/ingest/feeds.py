"""Reading feeds, and finding a page's feed. Pure: bytes in, small frozen values out.

RSS 0.9x, 1.0 and 2.0 and Atom are read by feedparser (the maintained reference parser: it
knows the dozens of date formats, namespaces, CDATA, relative links and entity habits of real
feeds, and recovers what it can from a broken one); JSON Feed 1.0/1.1 is plain JSON, read here.

Hostile XML gets nowhere, by several layers, each enough on its own for what it guards:
- the body is handed to feedparser as a stream, never as a string or bytes, which it would
  otherwise try as a URL or a file name to open;
- the DOCTYPE (and any internal subset with entity declarations) is cut before parsing, so no
  declared entity exists to expand; feedparser would also keep only flat entity values, expat
  limits entity amplification, and external entities are off in feedparser's SAX parser;
- only the first MAX_ENTRIES entries of the document are parsed (the rest is cut at an entry
  boundary, before parsing), and the bytes were capped by the fetcher.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

from index.errors import FeedError
from index.text import fold

MAX_ENTRIES = 500  # entries read from one document; later ones are not parsed at all
FULL_TEXT_WORDS = 150  # an entry with this much content is the article, not a teaser
TITLE_CHARS = 300
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
_ENTRY_END = re.compile(rb"</(?:[\w.-]+:)?(?:item|entry)\s*>", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_ROOT_CLOSERS = ((b"<rss", b"</channel></rss>"), (b"<feed", b"</feed>"),
                 (b"<rdf:rdf", b"</rdf:RDF>"))


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

    safe, truncated = _bounded(_without_doctype(body))
    result = feedparser.parse(io.BytesIO(safe), response_headers={"content-location": url},
                              sanitize_html=True, resolve_relative_uris=True)
    entries = tuple(_entry(e, url) for e in result.entries[:MAX_ENTRIES])
    feed = result.get("feed", {})
    if not result.get("version") and not entries:
        raise FeedError("That address does not hold an RSS, Atom or JSON feed citebot can read.")
    ttl = _number(feed.get("ttl"))
    return ParsedFeed(result.get("version") or "xml", _text(feed.get("title")) or None,
                      _absolute(feed.get("link"), url), entries,
                      ttl * 60 if ttl else None, truncated)


def _without_doctype(body: bytes) -> bytes:
    """`body` with its DOCTYPE declaration (internal subset included) cut out of the prolog."""
    first = _FIRST_ELEMENT.search(body)
    prolog_end = first.start() if first else len(body)
    start = _DOCTYPE.search(body, 0, prolog_end)
    if start is None:
        return body
    end, depth, quote = start.end(), 0, 0
    while end < len(body):
        c = body[end]
        if quote:
            quote = 0 if c == quote else quote
        elif c in b"\"'":
            quote = c
        elif c == ord("["):
            depth += 1
        elif c == ord("]"):
            depth = max(0, depth - 1)
        elif c == ord(">") and depth == 0:
            return body[:start.start()] + body[end + 1:]
        end += 1
    return body[:start.start()]  # never closed: nothing after it is a feed


def _bounded(body: bytes) -> tuple[bytes, bool]:
    """The document cut after its MAX_ENTRIES-th entry (and closed again), and whether it was."""
    for count, match in enumerate(_ENTRY_END.finditer(body), 1):
        if count == MAX_ENTRIES:
            rest = body[match.end():]
            if _ENTRY_END.search(rest) is None:
                return body, False
            head = body[:2048].lower()
            closer = next((c for tag, c in _ROOT_CLOSERS if tag in head), b"")
            return body[:match.end()] + closer, True
    return body, False


def _entry(raw: Any, base: str) -> FeedEntry:
    content = raw.get("content") or []
    full = max((_paragraphs(c.get("value", "")) for c in content), key=len, default="")
    summary = _text(raw.get("summary"))
    if not full and len(summary.split()) >= FULL_TEXT_WORDS:
        full = _paragraphs(raw.get("summary", ""))
    parsed = raw.get("published_parsed") or raw.get("updated_parsed")
    return FeedEntry(
        guid=_clip(raw.get("id"), 1000) or None, link=_absolute(raw.get("link"), base),
        title=_clip(_text(raw.get("title")), TITLE_CHARS),
        published=time.strftime("%Y-%m-%d", parsed) if parsed else None,
        author=_clip(_text(raw.get("author")), 200) or None, summary=summary,
        content=full if len(full.split()) >= FULL_TEXT_WORDS else None)


# -- JSON Feed --------------------------------------------------------------------------------


def _parse_json(body: bytes, url: str) -> ParsedFeed:
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FeedError("That feed is not valid JSON, so citebot cannot read it.") from None
    version = data.get("version") if isinstance(data, dict) else None
    if not (isinstance(version, str) and "jsonfeed.org" in version):
        raise FeedError("That address holds JSON, but not a JSON Feed citebot can read.")
    items = data.get("items") if isinstance(data.get("items"), list) else []
    base = _string(data.get("feed_url")) or url
    entries = tuple(_json_entry(item, urljoin(url, base)) for item in items[:MAX_ENTRIES]
                    if isinstance(item, dict))
    return ParsedFeed("json", _clip(_string(data.get("title")), TITLE_CHARS) or None,
                      _absolute(_string(data.get("home_page_url")), url), entries,
                      truncated=len(items) > MAX_ENTRIES)


def _json_entry(item: dict[str, Any], base: str) -> FeedEntry:
    html, text = _string(item.get("content_html")), _string(item.get("content_text"))
    full = _paragraphs(html) if html else text.strip()
    summary = _string(item.get("summary")) or " ".join(full.split()[:60])
    authors: list[Any] = item["authors"] if isinstance(item.get("authors"), list) else [
        item.get("author")]
    author = next((_string(a.get("name")) for a in authors if isinstance(a, dict)), "")
    date = _string(item.get("date_published")) or _string(item.get("date_modified"))
    return FeedEntry(
        guid=_clip(_string(item.get("id")) or _number_text(item.get("id")), 1000) or None,
        link=_absolute(_string(item.get("url")) or _string(item.get("external_url")), base),
        title=_clip(_text(_string(item.get("title"))), TITLE_CHARS),
        published=date[:10] if re.match(r"\d{4}-\d{2}-\d{2}", date) else None,
        author=_clip(author, 200) or None, summary=_clip(summary, 2000),
        content=full if len(full.split()) >= FULL_TEXT_WORDS else None)


# -- discovery --------------------------------------------------------------------------------


class _Links(HTMLParser):
    """Collects <link rel="alternate" type="...feed type..." href> until </head>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.done = True
        if tag != "link" or self.done:
            return
        values = {k: (v or "") for k, v in attrs}
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in _ALTERNATE_TYPES and values.get("href"):
            self.found.append(values["href"].strip())

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.done = True


def discover(html: str, base_url: str, limit: int = 5) -> list[str]:
    """The feeds a page announces in its head, absolute, in its order (at most `limit`)."""
    parser = _Links()
    for start in range(0, min(len(html), 1_000_000), 65_536):  # the head is near the top
        parser.feed(html[start:start + 65_536])
        if parser.done or len(parser.found) >= limit:
            break
    links = [urljoin(base_url, href) for href in parser.found]
    return [u for u in dict.fromkeys(links) if u.lower().startswith(("http://", "https://"))][
        :limit]


# -- text -------------------------------------------------------------------------------------

_BLOCKS = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
                     "tr", "section", "article", "pre", "ul", "ol", "table", "figure", "hr"})
_SKIPPED = frozenset({"script", "style", "figcaption", "noscript", "template"})


class _Text(HTMLParser):
    """HTML to plain text, with a blank line at every block boundary."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _paragraphs(html: str) -> str:
    """HTML (or plain text) as paragraphs separated by blank lines."""
    if "<" not in html:
        return unescape(html).strip()
    parser = _Text()
    parser.feed(html)
    parser.close()
    blocks = ("".join(parser.parts)).split("\n\n")
    return "\n\n".join(" ".join(b.split()) for b in blocks if b.strip())


def _text(value: Any) -> str:
    """A field as one line of plain text (tags dropped, entities decoded)."""
    return " ".join(_paragraphs(_string(value)).split())


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number_text(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


def _number(value: Any) -> float | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 1e7 else None


def _clip(value: Any, limit: int) -> str:
    return " ".join(_string(value).split())[:limit]


def _absolute(link: Any, base: str) -> str | None:
    link = _string(link).strip()
    if not link:
        return None
    absolute = urljoin(base, link)
    return absolute if absolute.lower().startswith(("http://", "https://")) else None
