"""Arbitrary Unicode in every field of a feed (lone surrogates, NUL, bidi controls, letters
outside the Basic Multilingual Plane, markup), served by a local site on 127.0.0.1 and polled
on both storage backends: never a traceback, never an unexpected failure, and what is stored is
whole (each article with its paragraphs) and storable text.

Reproducible like tests/test_properties.py: the seed is ``CITEBOT_TEST_SEED`` (a fixed
default), and ``CITEBOT_TEST_SCALE=N`` runs N times as many examples."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from index.errors import CitebotError
from retrieval.core import Core
from tests.conftest import on_backend
from tests.feedsite import FeedSite
from tests.test_feeds import Clock, feed_settings, open_core

WORDS = " ".join(f"Word{i} of a story carried whole by its feed." for i in range(40))
ODD = ["\ud800", "\udfff", "\ud83d", "\x00", "\x1b[2J", "\u202e", "\u2066", "\u200f",
       "\U0001d49c", "\U0001f600", "\ufeff", "\ufffe", "&lt;a ", "<a ", "]]>", "&#0;", "&boom;",
       "<!--", "<script>", "\r\n", "\u2028"]
PIECES = st.one_of(st.characters(exclude_categories=()), st.sampled_from(ODD))
TEXT = st.lists(PIECES, max_size=12).map("".join)
ENTRY = st.fixed_dictionaries({
    "id": TEXT, "title": TEXT, "path": TEXT, "author": TEXT, "date": TEXT, "summary": TEXT,
    "content": TEXT, "whole": st.booleans()})
_numbers = itertools.count()
SEED = int(os.environ.get("CITEBOT_TEST_SEED", "20240611"))
EXAMPLES = max(1, int(30 * float(os.environ.get("CITEBOT_TEST_SCALE", "1"))))


@pytest.fixture
def core(tmp_path: Path, site: FeedSite, backend: str,
         request: pytest.FixtureRequest) -> Iterator[Core]:
    opened = open_core(on_backend(feed_settings(tmp_path, site), backend, request), Clock())
    yield opened
    opened.close()


def json_feed(title: str, entries: list[dict[str, Any]]) -> bytes:
    items = [{"id": e["id"], "url": "/news/" + e["path"], "title": e["title"],
              "authors": [{"name": e["author"]}], "date_published": e["date"],
              "summary": e["summary"],
              "content_html": f"<p>{WORDS}</p>{e['content']}" if e["whole"] else e["content"]}
             for e in entries]
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": title,
                       "home_page_url": title, "items": items}).encode()


def rss_feed(title: str, entries: list[dict[str, Any]]) -> bytes:
    def field(name: str, value: str) -> str:
        return f"<{name}>{escape(value)}</{name}>"

    items = "".join(
        "<item>" + field("guid", e["id"]) + field("title", e["title"])
        + field("link", "/news/" + e["path"]) + field("author", e["author"])
        + field("pubDate", e["date"]) + field("description", e["summary"])
        + field("content:encoded", (f"<p>{WORDS}</p>" if e["whole"] else "") + e["content"])
        + "</item>" for e in entries)
    doc = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:content='
           f'"http://purl.org/rss/1.0/modules/content/"><channel>{field("title", title)}'
           f"<link>/</link>{items}</channel></rss>")
    return doc.encode("utf-8", "surrogatepass")  # lone surrogates as the bytes a CMS sends


def storable(text: str | None) -> bool:
    return text is None or (
        "\x00" not in text and not any("\ud800" <= c <= "\udfff" for c in text))


@seed(SEED)
@settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(title=TEXT, entries=st.lists(ENTRY, max_size=3), xml=st.booleans())
def test_any_text_in_any_field_is_stored_whole_or_refused_cleanly(
        core: Core, site: FeedSite, title: str, entries: list[dict[str, Any]],
        xml: bool) -> None:
    number = next(_numbers)
    collection, path = f"c{number}", f"/feed{number}"
    body = rss_feed(title, entries) if xml else json_feed(title, entries)
    site.page(path, body, "application/rss+xml" if xml else "application/feed+json")
    try:
        feed = core.add_feed(collection, site.url(path))
    except CitebotError:
        return  # refused with a sentence: fine, nothing was stored
    report = core.poll_feed(feed.id)
    assert "unexpectedly" not in (report.error or ""), report.error
    (stored,) = core.feeds(collection)
    assert storable(stored.title) and storable(stored.last_error)
    articles = core.articles(collection)
    assert {a.id for a in report.added} <= {a.id for a in articles}
    for article in articles:
        whole = core.article(collection, article.id)
        assert whole.paragraph_count > 0
        assert all(storable(x) for x in (whole.title, whole.author, whole.url, whole.published))
