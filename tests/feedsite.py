"""A local news site for feed tests: a threaded HTTP server on 127.0.0.1 serving feeds and
article pages, answering conditional requests, and recording every request it gets."""

from __future__ import annotations

import hashlib
import html.parser
import io
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import feedparser
import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
Route = Callable[[BaseHTTPRequestHandler], None]

ARTICLE_PAGE = """<!doctype html><html><head><title>{title}</title>
<meta property="og:site_name" content="Averly Gazette"></head><body><article>
<h1>{title}</h1>{paragraphs}</article></body></html>"""


def article_html(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return ARTICLE_PAGE.format(title=title, paragraphs=body).encode()


def story(slug: str, quote: str) -> list[str]:
    """Three paragraphs of plausible prose about `slug`, one of them `quote`."""
    return [f"The {slug} story developed over the week as residents of Port Averly followed "
            "the council debate closely, with several public meetings held in the town hall.",
            quote,
            f"Officials said more details about the {slug} plan would be published next month, "
            "after the budget committee has reviewed the figures and heard from residents."]


@dataclass
class Seen:
    """One request the site received."""

    path: str
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


class FeedSite:
    """Routes by path (query ignored unless a route names it); `pages` answer with an ETag
    and Last-Modified, and with 304 when the request's validators match."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.active = 0
        self.most_active = 0
        self.versions = 0
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                site._record(self)
                self.answered = False
                self.close_connection = True
                path = self.path if self.path in site.routes else self.path.split("?")[0]
                try:
                    with suppress(OSError):
                        site.routes.get(path, _not_found)(self)
                finally:
                    self._done()

            def send_response(self, code: int, message: str | None = None) -> None:
                # a request stops counting as active when its answer starts: the client may
                # send its next request as soon as it has read this one, before this thread
                # gets to return, and that is not two requests at once
                self._done()
                super().send_response(code, message)

            def _done(self) -> None:
                with site._lock:
                    if not self.answered:
                        self.answered = True
                        site.active -= 1

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def _record(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.seen.append(Seen(handler.path, {k.lower(): v for k, v in handler.headers.items()}))
            self.active += 1
            self.most_active = max(self.most_active, self.active)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def count(self, prefix: str = "/") -> int:
        return sum(s.path.startswith(prefix) for s in self.seen)

    def page(self, path: str, body: bytes, content_type: str = "text/html; charset=utf-8",
             *, conditional: bool = True, headers: dict[str, str] | None = None) -> None:
        """Serve `body` at `path`, with validators derived from it."""
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        self.versions += 1  # every page served anew is a minute later than the one before
        modified = time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                 time.gmtime(1_700_000_000 + 60 * self.versions))

        def route(h: BaseHTTPRequestHandler) -> None:
            match = h.headers.get("If-None-Match") == etag if h.headers.get(
                "If-None-Match") else h.headers.get("If-Modified-Since") == modified
            if conditional and match:
                reply(h, b"", content_type, 304, {"ETag": etag, **(headers or {})})
                return
            extra = {"ETag": etag, "Last-Modified": modified} if conditional else {}
            reply(h, body, content_type, 200, {**extra, **(headers or {})})

        self.routes[path] = route

    def article(self, slug: str, quote: str, title: str | None = None) -> str:
        """Serve an article page at /news/<slug>; its URL."""
        path = f"/news/{slug}"
        self.page(path, article_html(title or slug.title(), story(slug, quote)))
        return self.url(path)


def reply(handler: BaseHTTPRequestHandler, body: bytes, content_type: str = "text/html",
          status: int = 200, headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
        handler.send_header(name, value)
    handler.end_headers()
    if body:
        handler.wfile.write(body)


def _not_found(handler: BaseHTTPRequestHandler) -> None:
    reply(handler, b"<p>no such page</p>", status=404)


def rss(items: list[dict[str, str]], title: str = "Averly Gazette", extra: str = "") -> bytes:
    """An RSS 2.0 document with these items (keys: title, link, guid, description, content)."""
    parts = []
    for item in items:
        fields = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in item.items()
                         if k in ("title", "description"))
        fields += "".join(f"<{k}>{v}</{k}>" for k, v in item.items() if k in ("link", "guid"))
        if "content" in item:
            fields += f"<content:encoded><![CDATA[{item['content']}]]></content:encoded>"
        parts.append(f"<item>{fields}</item>")
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>{title}</title><link>/</link>{extra}{''.join(parts)}</channel></rss>"
            ).encode()


@contextmanager
def connections() -> Iterator[list[tuple[Any, ...]]]:
    """Every socket connection this process attempts inside the block, as (host, port), seen
    by an audit hook (sys.addaudithook: nothing is patched, nothing can slip past it)."""
    seen: list[tuple[Any, ...]] = []
    _AUDIT.append(seen)
    try:
        yield seen
    finally:
        _AUDIT.remove(seen)


_AUDIT: list[list[tuple[Any, ...]]] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect" and _AUDIT and args[0].family in (socket.AF_INET,
                                                                     socket.AF_INET6):
        for seen in _AUDIT:
            seen.append(tuple(args[1])[:2])


sys.addaudithook(_hook)


# -- spies: how much of a document each parser was given (the real parsers still run) --------
def parser_fed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the documents feedparser is given from now on."""
    seen: list[int] = []
    real = feedparser.parse

    def parse(stream: io.BytesIO, **kw: object) -> object:
        seen.append(len(stream.getvalue()))
        return real(stream, **kw)

    monkeypatch.setattr(feedparser, "parse", parse)
    return seen


def html_fed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the pieces the standard library's HTMLParser is fed from now on."""
    fed: list[int] = []
    real_feed = html.parser.HTMLParser.feed

    def feed_spy(self: html.parser.HTMLParser, data: str) -> None:
        fed.append(len(data))
        real_feed(self, data)

    monkeypatch.setattr(html.parser.HTMLParser, "feed", feed_spy)
    return fed
