"""Broken and hostile feed documents, served by a local site on 127.0.0.1 and polled through
the core: text no database can store, entity declarations hidden from a naive DOCTYPE cut,
documents built to make a parser slow or large, invalid dates, and polls that fail in
unexpected places (which must back off like any failed poll, never spin)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retrieval.core import Core
from tests.feedsite import FeedSite, html_fed, parser_fed, reply
from tests.test_feeds import COLLECTION, Clock, feed_settings, open_core

WORDS = " ".join(f"Word{i} of the long story the feed carries whole." for i in range(40))
EXPANDED = "EXPANDED-BY-AN-ENTITY"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def core(tmp_path: Path, site: FeedSite, clock: Clock) -> Iterator[Core]:
    opened = open_core(feed_settings(tmp_path, site), clock)
    yield opened
    opened.close()


def json_feed(items: list[dict[str, Any]], title: str = "Gazette") -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": title,
                       "items": items}).encode()


def xml_item(title: str, guid: str, extra: str = "") -> str:
    return (f"<item><title>{title}</title><guid>{guid}</guid>{extra}"
            f"<description><![CDATA[<p>{guid}: {WORDS}</p>]]></description></item>")


def channel(items: str, title: str = "Gazette", prolog: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>{prolog}<rss version="2.0"><channel>'
            f"<title>{title}</title><link>/</link>{items}</channel></rss>").encode()


def text_of(core: Core) -> str:
    """Every title and summary citebot kept from the collection's feeds and articles."""
    feeds = " ".join(f"{f.title}" for f in core.feeds(COLLECTION))
    articles = " ".join(f"{a.title} {a.author}" for a in core.articles(COLLECTION))
    return f"{feeds} {articles}"


def test_text_no_database_stores_is_cleaned_not_fatal(
        tmp_path: Path, site: FeedSite, clock: Clock, backend: str,
        request: pytest.FixtureRequest) -> None:
    """Lone surrogates (an emoji cut in half) fail on SQLite, NUL on PostgreSQL: both used to
    fail every poll with no backoff."""
    from tests.conftest import on_backend

    core = open_core(on_backend(feed_settings(tmp_path, site), backend, request), clock)
    try:
        items = [{"id": "\ud800one\x00", "url": site.url("/news/one"), "title": "Half \ud83d",
                  "content_text": f"Caf\udce9 \x00 {WORDS}", "authors": [{"name": "A\x00B"}],
                  "date_published": "2025-03-04T10:00:00Z"}]
        site.page("/feed.json", json_feed(items, title="Gaz\x00ette \udfff"),
                  "application/feed+json")
        feed = core.add_feed(COLLECTION, site.url("/feed.json"))
        report = core.poll_feed(feed.id)
        assert report.status == "new", report
        assert report.feed.title == "Gazette \ufffd"
        (article,) = report.added
        assert article.title == "Half \ufffd" and article.author == "AB"
        assert core.poll_feed(feed.id).status == "not-modified"
        assert core.feeds(COLLECTION)[0].title == "Gazette \ufffd"
    finally:
        core.close()


def test_a_poll_failing_anywhere_backs_off_and_other_feeds_go_on(
        core: Core, site: FeedSite, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("a", "b"):
        site.page(f"/{name}.json", json_feed([{"id": name, "url": site.url(f"/news/{name}"),
                                               "title": name, "content_text": WORDS}]),
                  "application/feed+json")
    a = core.add_feed(COLLECTION, site.url("/a.json"))
    b = core.add_feed(COLLECTION, site.url("/b.json"))
    storage = core.poller.storage
    real_mark = storage.mark_seen

    def mark_seen(feed_id: int, *args: Any) -> None:
        if feed_id == a.id:
            raise RuntimeError("unexpected trouble in storage")
        real_mark(feed_id, *args)

    monkeypatch.setattr(storage, "mark_seen", mark_seen)
    reports = {r.feed.id: r for r in core.poll_due()}
    assert reports[a.id].status == "failed" and reports[b.id].status == "new"
    assert reports[a.id].feed.next_poll_at > clock.now and reports[a.id].feed.failures == 1
    assert core.due_feeds() == [] and core.poll_due() == []  # no second poll right away
    # storage failing even to record the failure: the feed is held back in memory instead
    monkeypatch.setattr(storage, "save_feed", lambda feed: 1 / 0)
    clock.now += 10_000
    (report,) = [r for r in core.poll_due() if r.feed.id == a.id]
    assert report.status == "failed"
    assert a.id not in [f.id for f in core.due_feeds()]
    assert [r.feed.id for r in core.poll_due()] == []


BOOM = f'<!ENTITY boom "{EXPANDED}">'
HIDDEN_DOCTYPES = [
    f"<!-- <a --><!DOCTYPE rss [{BOOM}]>",  # what a cut before the first "<a" misses
    f"<?pi <a ?><!DOCTYPE rss [{BOOM}]>",
    f"<!--\n<!DOCTYPE rss>\n{BOOM}\n-->",  # a comment feedparser's own regex would read
    f'<!DOCTYPE rss [<!ENTITY x "]>"><!-- ]> -->{BOOM}]>',  # ends that are not the end
    f"<!DOCTYPE rss [<?x ]> ?>{BOOM}]>",
    f"\n<!--x-->\n<!DOCTYPE\nrss\n[\n{BOOM}\n]\n>\n",
    f"<!DOCTYPE rss [{BOOM}]><!DOCTYPE rss [{BOOM}]>",  # two
    f"<!-- <rss> --><!DOCTYPE rss [{BOOM}]><!-- <a -->",
]


@pytest.mark.parametrize("prolog", HIDDEN_DOCTYPES)
def test_entity_declarations_hidden_in_the_prolog_never_expand(
        core: Core, site: FeedSite, prolog: str) -> None:
    doc = channel(xml_item("Story &boom;", "g1"), title="Gazette &boom;", prolog=prolog)
    for n, body in enumerate((doc, doc.decode().replace('"utf-8"', '"utf-16"').encode(
            "utf-16"))):
        site.page(f"/feed{n}.xml", body, "application/rss+xml")
        feed = core.add_feed(COLLECTION, site.url(f"/feed{n}.xml"))
        core.poll_feed(feed.id)
    assert EXPANDED not in text_of(core)


def test_only_the_first_entries_are_read_even_when_they_close_themselves(
        core: Core, site: FeedSite, monkeypatch: pytest.MonkeyPatch) -> None:
    body = channel("<item/>" * 5_000 + xml_item("Late story", "late"))
    site.page("/feed.xml", body, "application/rss+xml")
    seen = parser_fed(monkeypatch)
    feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
    report = core.poll_feed(feed.id)
    assert "Late story" not in [t.title for t in report.taken]
    assert seen and max(seen) < len(body) // 5, (seen, len(body))


def test_markup_in_titles_is_cut_before_any_html_parser_reads_it(
        core: Core, site: FeedSite, monkeypatch: pytest.MonkeyPatch) -> None:
    """`&lt;a ` repeated: quadratic in the standard library's HTMLParser."""
    fed = html_fed(monkeypatch)
    hostile = "&lt;a " * 6_000
    site.page("/feed.xml", channel(xml_item(hostile, "g1", f"<author>{hostile}</author>"),
                                   title=hostile), "application/rss+xml")
    feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
    report = core.poll_feed(feed.id)
    assert report.status == "new" and len(report.added[0].title) <= 300
    assert len(report.feed.title or "") <= 300
    assert max(fed, default=0) <= 10_000, max(fed)


def test_a_huge_channel_title_is_not_stored_whole(core: Core, site: FeedSite) -> None:
    site.page("/feed.xml", channel(xml_item("Story", "g1"), title="Gazette " * 60_000),
              "application/rss+xml")
    feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
    assert feed.title and len(feed.title) <= 300
    assert len(core.poll_feed(feed.id).feed.title or "") <= 300


def test_invalid_dates_are_no_dates(core: Core, site: FeedSite) -> None:
    bad = ["2025-13-45T99:99:99Z", "99999-01-01T00:00:00Z", "Tue, 45 Mar 2025 10:00:00 GMT",
           "Tue, 04 Mar 99999 10:00:00 GMT", "2025-02-30T10:00:00Z"]
    items = "".join(xml_item(f"Story {n}", f"g{n}", f"<pubDate>{d}</pubDate>")
                    for n, d in enumerate(bad))
    items += xml_item("Good", "good", "<pubDate>Tue, 04 Mar 2025 10:00:00 GMT</pubDate>")
    site.page("/feed.xml", channel(items), "application/rss+xml")
    site.page("/feed.json", json_feed([{"id": "j", "title": "Json", "content_text": WORDS,
                                        "date_published": "2025-13-45T10:00:00Z"}]),
              "application/feed+json")
    added = []
    for path in ("/feed.xml", "/feed.json"):
        feed = core.add_feed(COLLECTION, site.url(path))
        added += core.poll_feed(feed.id).added
    dates = {a.title: a.published for a in added}
    assert dates.pop("Good") == "2025-03-04"
    assert dates == {t: None for t in dates} and len(dates) == len(bad) + 1, dates


def test_a_compressed_feed_is_bounded_by_its_decoded_size(
        tmp_path: Path, site: FeedSite, clock: Clock) -> None:
    small = channel(xml_item("Story", "g1"))
    big = channel(xml_item("Story", "g1") + "<!-- padding -->" * 20_000)  # 320 KB decoded
    core = open_core(feed_settings(tmp_path, site, feed_max_bytes=100_000), clock)
    try:
        body = [small]
        site.routes["/feed.xml"] = lambda h: reply(
            h, gzip.compress(body[0]), "application/rss+xml", headers={"Content-Encoding": "gzip"})
        feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
        body[0] = big
        report = core.poll_feed(feed.id)
        assert report.status == "failed" and "100,000 bytes" in (report.error or ""), report
    finally:
        core.close()


def test_markup_is_read_within_a_budget_whatever_the_bytes_hold(
        core: Core, site: FeedSite) -> None:
    """Tags in entries cost feedparser tens of microseconds each (parsed, then sanitized):
    entries past the budget are left for later, and a document over it before its first
    entry ends is not read."""
    heavy = "<a href='x'>" * 5_000  # 5,000 tags and attributes an entry
    items = "".join(xml_item(f"Story {n}", f"g{n}", f"<category><![CDATA[{heavy}]]></category>")
                    for n in range(50))
    site.page("/feed.xml", channel(items), "application/rss+xml")
    feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
    report = core.poll_feed(feed.id)
    assert report.status == "new" and 5 <= len(report.taken) <= 20, len(report.taken)
    site.page("/feed.xml", channel(xml_item("x" + "&amp;" * 200_000, "g")),
              "application/rss+xml")
    report = core.poll_feed(feed.id)
    assert report.status == "failed" and "more markup than citebot reads" in (
        report.error or ""), report


def test_an_address_refused_by_a_setting_is_not_the_feeds_fault(
        tmp_path: Path, site: FeedSite, clock: Clock) -> None:
    site.page("/feed.xml", channel(xml_item("Story", "g1")), "application/rss+xml")
    first = open_core(feed_settings(tmp_path, site), clock)
    try:
        feed = first.add_feed(COLLECTION, site.url("/feed.xml"))
    finally:
        first.close()
    closed = open_core(feed_settings(tmp_path, site, fetch_allow_networks=[],
                                     feed_failures_to_pause=1), clock)
    try:
        report = closed.poll_feed(feed.id)
        assert report.status == "failed" and report.feed.failures == 0, report
        assert "CITEBOT_FETCH_ALLOW_NETWORKS" in (report.error or "")
        assert report.feed.next_poll_at > clock.now and not report.feed.paused
    finally:
        closed.close()
    assert site.count("/feed.xml") == 1  # only the subscription's request


def test_a_refused_address_is_looked_up_once_per_poll(
        tmp_path: Path, site: FeedSite, clock: Clock) -> None:
    """The fetcher says which setting refuses the feed's own address: the poller does not
    resolve the host a second time to work it out."""
    site.page("/feed.xml", channel(xml_item("Story", "g1")), "application/rss+xml")
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    first = open_core(feed_settings(tmp_path, site), clock)
    try:
        first.poller.resolver = resolver
        feed = first.add_feed(COLLECTION, f"http://gazette.test:{site.port}/feed.xml")
    finally:
        first.close()
    closed = open_core(feed_settings(tmp_path, site, fetch_allow_networks=[]), clock)
    try:
        closed.poller.resolver = resolver
        lookups.clear()
        report = closed.poll_feed(feed.id)
        assert report.status == "failed" and report.feed.failures == 0, report
        assert "allow it in CITEBOT_FETCH_ALLOW_NETWORKS" in (report.error or ""), report
        assert lookups == ["gazette.test"]
    finally:
        closed.close()


def test_a_redirect_refused_by_a_setting_is_the_feeds_fault(
        core: Core, site: FeedSite) -> None:
    """Only the feed's own address waits for a setting: a feed redirecting to an address a
    setting could open (a private network) is refused and paused, as the fetcher says."""
    site.page("/feed.xml", channel(xml_item("Story", "g1")), "application/rss+xml")
    feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
    core.poller.resolver = lambda host, port: ["10.1.2.3"] if host == "inside.test" else []
    site.routes["/feed.xml"] = lambda h: reply(
        h, b"", status=302, headers={"Location": "http://inside.test/feed.xml"})
    report = core.poll_feed(feed.id)
    assert report.status == "paused" and report.feed.paused, report
    assert "allow it in" not in (report.error or ""), report


def test_validators_no_database_stores_are_not_kept(
        tmp_path: Path, site: FeedSite, clock: Clock, backend: str,
        request: pytest.FixtureRequest) -> None:
    from tests.conftest import on_backend

    core = open_core(on_backend(feed_settings(tmp_path, site), backend, request), clock)
    try:
        body = channel(xml_item("Story", "g1"))
        site.routes["/feed.xml"] = lambda h: reply(
            h, body, "application/rss+xml",
            headers={"ETag": '"a\x00b"', "Last-Modified": "Tue, 04 Mar 2025\x00"})
        feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
        report = core.poll_feed(feed.id)
        assert report.status == "new" and report.feed.etag is None, report
        assert core.poll_feed(feed.id).status == "unchanged"
    finally:
        core.close()


def test_an_element_with_countless_attributes_is_refused(core: Core, site: FeedSite) -> None:
    """The standard library's SAX layer looks every attribute up in a list of them all:
    20,000 attributes on one element cost 12 s, 100,000 four minutes."""
    site.page("/feed.xml", channel(xml_item("Story", "g1")), "application/rss+xml")
    feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
    crowded = " ".join(f'a{n}="v>"' for n in range(300))  # ">" may sit in a quoted value
    site.page("/feed.xml", channel(xml_item("Story", "g1", f"<category {crowded}>c</category>")),
              "application/rss+xml")
    report = core.poll_feed(feed.id)
    assert report.status == "failed" and "200 or more attributes" in (report.error or ""), report


def test_a_malformed_address_in_a_field_costs_that_field_only(core: Core, site: FeedSite) -> None:
    doc = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Gazette",
                      "feed_url": "http://[x", "home_page_url": "http://[::1",
                      "items": [{"id": "a", "url": "http://[y/z", "title": "Story",
                                 "content_text": WORDS}]}).encode()
    site.page("/feed.json", doc, "application/feed+json")
    feed = core.add_feed(COLLECTION, site.url("/feed.json"))
    report = core.poll_feed(feed.id)
    assert report.status == "new" and report.added[0].url is None, report


def test_finding_a_pages_feed_reads_no_html_parser_input_whole(
        core: Core, site: FeedSite, monkeypatch: pytest.MonkeyPatch) -> None:
    fed = html_fed(monkeypatch)
    site.page("/feed.xml", channel(xml_item("Story", "g1")), "application/rss+xml")
    page = ("<html><head><title>" + "<a " * 8_000 + "</title><!-- a comment -->"
            '<link rel="alternate" type="application/rss+xml" href="/feed.xml"></head>'
            "<body></body></html>")
    site.page("/", page.encode())
    feed = core.add_feed(COLLECTION, site.url("/"))
    assert feed.url == site.url("/feed.xml")
    assert max(fed, default=0) <= 10_000, max(fed)
