"""Feed subscriptions and polling through the core, against a local news site on 127.0.0.1:
new entries become answerable articles, an unchanged feed costs one conditional request,
entries that change order, ids and query strings are never duplicated, and a failing feed
backs off and is paused with its reason."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from index.errors import FeedError, LimitReachedError, NotFoundError
from retrieval.core import Core
from tests.conftest import on_backend
from tests.fakes import HashEmbedder
from tests.feedsite import FeedSite, reply, rss, story

COLLECTION = "news"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def feed_settings(tmp_path: Path, site: FeedSite, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data", "fetch_allow_networks": ["127.0.0.1/32"],
        "fetch_allow_ports": [site.port], "fetch_timeout_s": 5.0, "min_score": -1.0,
        "feed_interval_s": 60.0, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def clock() -> Clock:
    return Clock()


def open_core(settings: Settings, clock: Clock) -> Core:
    core = Core.open(settings, embedder=HashEmbedder())
    core.poller.clock = core.poller.entries.clock = clock
    core.poller.rng = random.Random(7)
    return core


@pytest.fixture
def core(tmp_path: Path, site: FeedSite, clock: Clock, backend: str,
         request: pytest.FixtureRequest) -> Iterator[Core]:
    """A core polling the local site, on each storage backend in turn."""
    opened = open_core(on_backend(feed_settings(tmp_path, site), backend, request), clock)
    yield opened
    opened.close()


QUOTES = {
    "harbor": '"We cannot ask families to rebuild in the same place," Mayor Lucia Ortiz said.',
    "library": "The library will stay open until 9 p.m. on Saturdays, the board decided.",
    "tram": "Transport minister Arjun Patel said the tram would run every six minutes.",
    "ferry": "The ferry will carry four hundred passengers on each crossing, Captain Ines Varga said.",
}


def serve_news(site: FeedSite, slugs: list[str], path: str = "/feed.xml", **kw: Any) -> None:
    for slug in slugs:
        site.article(slug, QUOTES[slug])
    items = [{"title": slug.title(), "link": site.url(f"/news/{slug}"), "guid": f"id-{slug}",
              "description": f"About the {slug}."} for slug in slugs]
    site.page(path, rss(items, **kw), "application/rss+xml")


def test_a_new_entry_becomes_an_answerable_article(core: Core, site: FeedSite) -> None:
    serve_news(site, ["harbor"])
    feed = core.add_feed(COLLECTION, site.url("/feed.xml"), added_by="alice")
    assert feed.title == "Averly Gazette" and feed.next_poll_at <= core.poller.clock()
    report = core.poll_feed(feed.id)
    assert report.status == "new" and [a.title for a in report.added] == ["Harbor"]
    serve_news(site, ["library", "harbor"])  # a new entry: the document (and its ETag) change
    report = core.poll_feed(feed.id)
    assert [a.title for a in report.added] == ["Library"]
    answer = core.ask(COLLECTION, "Until when will the library stay open on Saturdays?")
    assert answer.found and "until 9 p.m. on Saturdays" in answer.quotes[0].text
    article = report.added[0]
    assert article.source == "Averly Gazette" or article.source  # the page's or the feed's
    assert article.added_by == f"feed:{feed.id}"


def test_an_unchanged_feed_costs_one_conditional_request_and_no_work(
        core: Core, site: FeedSite) -> None:
    serve_news(site, ["harbor", "library"])
    feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
    assert core.poll_feed(feed.id).status == "new"
    before, articles = len(site.seen), core.stats(COLLECTION).articles
    report = core.poll_feed(feed.id)
    assert report.status == "not-modified" and report.taken == ()
    (request,) = site.seen[before:]
    assert request.path == "/feed.xml" and request.headers["if-none-match"] == feed_etag(core)
    assert "if-modified-since" in request.headers
    assert core.stats(COLLECTION).articles == articles
    # a server that ignores validators: the same body is recognised, nothing is parsed
    site.page("/feed.xml", rss([{"title": "Harbor", "link": site.url("/news/harbor"),
                                 "guid": "id-harbor", "description": "About the harbor."},
                                {"title": "Library", "link": site.url("/news/library"),
                                 "guid": "id-library", "description": "About the library."}]),
              "application/rss+xml", conditional=False)
    before = len(site.seen)
    assert core.poll_feed(feed.id).status == "unchanged"
    assert [s.path for s in site.seen[before:]] == ["/feed.xml"]


def feed_etag(core: Core) -> str | None:
    return core.feeds(COLLECTION)[0].etag


def test_entries_that_change_order_ids_and_query_strings_are_never_duplicated(
        core: Core, site: FeedSite) -> None:
    slugs = list(QUOTES)
    for slug in slugs:
        site.article(slug, QUOTES[slug])
    shuffler = random.Random(11)
    feed_id = None
    for poll in range(100):
        order = shuffler.sample(slugs, len(slugs))
        items = [{"title": s.title(), "guid": f"{s}-{poll}-{shuffler.randrange(10**6)}",
                  "link": site.url(f"/news/{s}?utm_source=poll{poll}&amp;ref=r{poll}"),
                  "description": f"About the {s}."} for s in order]
        site.page("/feed.xml", rss(items), "application/rss+xml")
        if feed_id is None:
            feed_id = core.add_feed(COLLECTION, site.url("/feed.xml")).id
        report = core.poll_feed(feed_id)
        assert report.status in ("new", "quiet"), report
    assert core.stats(COLLECTION).articles == len(slugs)
    titles = sorted(a.title for a in core.articles(COLLECTION))
    assert titles == sorted(s.title() for s in slugs)
    assert site.count("/news/") == len(slugs)  # each page fetched once, in the first poll


def test_a_changed_entry_updates_its_article_in_place(core: Core, site: FeedSite) -> None:
    text = " ".join(story("budget", "The budget grows by four percent, the treasurer said."))
    body = " ".join([text] * 4)
    items = [{"title": "Budget", "link": site.url("/news/budget"), "guid": "b-1",
              "content": f"<p>{body}</p>"}]
    site.page("/feed.xml", rss(items), "application/rss+xml")
    feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
    (taken,) = core.poll_feed(feed.id).taken
    assert taken.status == "added" and site.count("/news/") == 0  # full text: no page fetch
    items[0]["content"] = f"<p>{body.replace('four percent', 'six percent')}</p>"
    site.page("/feed.xml", rss(items), "application/rss+xml")
    (again,) = core.poll_feed(feed.id).taken
    assert again.status == "updated" and again.article and taken.article
    assert again.article.id == taken.article.id
    assert core.stats(COLLECTION).articles == 1
    answer = core.ask(COLLECTION, "How much does the budget grow?")
    assert "six percent" in answer.quotes[0].text


def test_failures_back_off_then_pause_with_the_reason(
        tmp_path: Path, site: FeedSite, clock: Clock) -> None:
    settings = feed_settings(tmp_path, site, feed_failures_to_pause=4)
    with open_core(settings, clock) as core:
        serve_news(site, ["harbor"])
        feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
        site.routes["/feed.xml"] = lambda h: reply(h, b"down", status=500)
        waits = []
        for _ in range(4):
            report = core.poll_feed(feed.id)
            waits.append(report.feed.next_poll_at - clock.now)
        assert [r > 0 for r in waits] == [True] * 4
        for shorter, longer in itertools.pairwise(waits):
            assert 1.8 < longer / shorter < 2.2  # doubled each time (jitter within 10%)
        assert report.status == "paused" and report.feed.paused
        assert "paused after 4 failed polls in a row" in report.feed.paused
        assert "HTTP 500" in report.feed.paused
        assert core.due_feeds() == [] and core.poll_feed(feed.id).status == "skipped"
        serve_news(site, ["harbor"])
        resumed = core.add_feed(COLLECTION, site.url("/feed.xml"))  # subscribing resumes it
        assert resumed.id == feed.id and resumed.paused is None and resumed.failures == 0
        assert core.poll_feed(feed.id).status == "new"


def test_the_feed_and_the_server_set_the_pace(core: Core, site: FeedSite, clock: Clock) -> None:
    serve_news(site, ["harbor"], extra="<ttl>180</ttl>")
    feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
    wait = core.poll_feed(feed.id).feed.next_poll_at - clock.now
    assert 180 * 60 <= wait <= 180 * 60 * 1.1  # the feed's ttl over the 60 s interval
    site.page("/other.xml", rss([]), "application/rss+xml",
              headers={"Cache-Control": "public, max-age=7200"})
    other = core.add_feed(COLLECTION, site.url("/other.xml"))
    wait = core.poll_feed(other.id).feed.next_poll_at - clock.now
    assert 7200 <= wait <= 7200 * 1.1
    site.routes["/other.xml"] = lambda h: reply(h, b"busy", status=503,
                                                headers={"Retry-After": "5000"})
    report = core.poll_feed(other.id)
    assert report.status == "failed" and report.feed.next_poll_at - clock.now >= 5000
    plain = core.add_feed(COLLECTION, site.url("/feed.xml"))
    assert plain.id == feed.id  # the same address is the same subscription
    waits = []
    for name in ("a", "b", "c", "d", "e"):
        site.page(f"/{name}.xml", rss([]), "application/rss+xml")
        added = core.add_feed(COLLECTION, site.url(f"/{name}.xml"))
        waits.append(core.poll_feed(added.id).feed.next_poll_at - clock.now)
    assert all(60 <= w <= 66 for w in waits) and len(set(waits)) == len(waits)  # jittered


def test_quotas_on_feeds_and_on_new_articles_a_day(
        tmp_path: Path, site: FeedSite, clock: Clock) -> None:
    settings = feed_settings(tmp_path, site, feed_max_per_server=1, feed_articles_per_day=2,
                             feed_entries_per_poll=10)
    with open_core(settings, clock) as core:
        serve_news(site, list(QUOTES))
        feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
        site.page("/second.xml", rss([]), "application/rss+xml")
        with pytest.raises(LimitReachedError, match="its limit of 1"):
            core.add_feed(COLLECTION, site.url("/second.xml"))
        report = core.poll_feed(feed.id)
        assert len(report.added) == 2 and report.pending == 2
        assert core.poll_feed(feed.id).pending == 2  # still over today's quota
        assert report.feed.etag is None  # entries wait: the next poll is not conditional
        clock.now += 86_401
        assert len(core.poll_feed(feed.id).added) == 2
        assert core.stats(COLLECTION).articles == 4
        assert core.poll_feed(feed.id).status == "not-modified"


def test_a_poll_takes_a_bounded_number_of_entries(
        tmp_path: Path, site: FeedSite, clock: Clock) -> None:
    with open_core(feed_settings(tmp_path, site, feed_entries_per_poll=3), clock) as core:
        serve_news(site, list(QUOTES))
        feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
        first = core.poll_feed(feed.id)
        assert len(first.added) == 3 and first.pending == 1
        assert len(core.poll_feed(feed.id).added) == 1


def test_retention_removes_old_articles_that_came_in_by_themselves(
        tmp_path: Path, site: FeedSite, clock: Clock) -> None:
    with open_core(feed_settings(tmp_path, site, feed_retention_days=2), clock) as core:
        core.add_text(COLLECTION, title="By hand", text="A member pasted this article text.")
        serve_news(site, ["harbor"])
        feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
        core.poll_feed(feed.id)
        assert core.apply_retention() == 0
        clock.now += 2 * 86_400 + 1
        assert core.apply_retention() == 1
        assert [a.title for a in core.articles(COLLECTION)] == ["By hand"]
        assert core.poll_feed(feed.id).status == "not-modified"  # and it does not come back


def test_subscribing_to_a_page_finds_its_feed_and_removing_keeps_the_articles(
        core: Core, site: FeedSite) -> None:
    serve_news(site, ["harbor"], path="/rss")
    site.page("/", b'<html><head><link rel="alternate" type="application/rss+xml" '
                   b'href="/rss"></head><body><p>Front page</p></body></html>')
    feed = core.add_feed(COLLECTION, site.url("/"))
    assert feed.url == site.url("/rss")
    core.poll_feed(feed.id)
    site.page("/nofeed", b"<html><head></head><body>hi</body></html>")
    with pytest.raises(FeedError, match="names no feed"):
        core.add_feed(COLLECTION, site.url("/nofeed"))
    assert core.remove_feed(COLLECTION, str(feed.id)).url == feed.url
    assert core.feeds(COLLECTION) == [] and core.stats(COLLECTION).articles == 1
    with pytest.raises(NotFoundError):
        core.remove_feed(COLLECTION, site.url("/rss"))


def test_polls_go_one_at_a_time_per_host_and_a_slow_feed_holds_up_no_other(
        tmp_path: Path, site: FeedSite, clock: Clock) -> None:
    settings = feed_settings(tmp_path, site, feed_concurrency=2, fetch_timeout_s=1.0)
    with open_core(settings, clock) as core:
        for slug in QUOTES:
            site.article(slug, QUOTES[slug])
        for n, slug in enumerate(QUOTES):
            site.page(f"/f{n}.xml", rss([{"title": slug, "link": site.url(f"/news/{slug}"),
                                          "guid": slug}]), "application/rss+xml")
            core.add_feed(COLLECTION, site.url(f"/f{n}.xml"))

        def stall(handler: Any) -> None:
            time.sleep(2.5)
            reply(handler, rss([]), "application/rss+xml")

        site.routes["/slow.xml"] = lambda h: reply(h, rss([]), "application/rss+xml")
        core.poller.resolver = lambda host, port: ["127.0.0.1"]  # "slow.test" is another host
        slow = core.add_feed(COLLECTION, site.url("/slow.xml", host="slow.test"))
        site.routes["/slow.xml"] = stall
        site.most_active = 0
        reports = {r.feed.id: r for r in core.poll_due()}
        assert reports[slow.id].status == "failed" and "too long" in (reports[slow.id].error
                                                                         or "")
        others = [r for i, r in reports.items() if i != slow.id]
        assert len(others) == 4 and all(len(r.added) == 1 for r in others)
        assert site.most_active <= 2  # one for the 127.0.0.1 lane, one for the slow host
