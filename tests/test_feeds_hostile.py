"""Hostile feeds: redirects and entry links aimed at internal addresses, pages naming internal
feeds, external entities. Only the test site's own port on 127.0.0.1 is allowed; an
"internal" service listens on 127.0.0.1 on another port, and an audit hook sees every
connection the process attempts. 0 requests may reach anything but the test site."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.core import Core
from tests.feedsite import FeedSite, connections, reply, rss
from tests.test_feeds import COLLECTION, Clock, feed_settings, open_core

INTERNAL_TARGETS = [
    "http://127.0.0.1:{internal}/admin",  # loopback, but a port that is not allowed
    "http://localhost:{internal}/admin",
    "http://[::1]:{port}/feed.xml",  # loopback over IPv6 is not in the allow-list
    "http://127.0.0.2:{port}/feed.xml",  # loopback outside the allowed /32
    "http://2130706434:{port}/feed.xml",  # 127.0.0.2 spelled as a number
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata: never
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://10.0.0.1/feed",
    "http://192.168.1.1/feed",
    "file:///etc/passwd",
    "gopher://127.0.0.1:{internal}/_x",
]


@pytest.fixture
def internal() -> Iterator[FeedSite]:
    served = FeedSite()
    served.routes["/admin"] = lambda h: reply(h, b"INTERNAL-SECRET", "application/rss+xml")
    yield served
    served.close()


@pytest.fixture
def core(tmp_path: Path, site: FeedSite) -> Iterator[Core]:
    opened = open_core(feed_settings(tmp_path, site), Clock())
    yield opened
    opened.close()


def targets(site: FeedSite, internal: FeedSite) -> list[str]:
    return [t.format(internal=internal.port, port=site.port) for t in INTERNAL_TARGETS]


def only_the_site(seen: list[tuple[object, ...]], site: FeedSite) -> None:
    assert seen and {(str(host), port) for host, port in seen} == {("127.0.0.1", site.port)}


def test_a_feed_redirecting_inside_is_refused_and_paused(
        core: Core, site: FeedSite, internal: FeedSite) -> None:
    with connections() as seen:
        for n, target in enumerate(targets(site, internal)):
            site.page(f"/f{n}.xml", rss([]), "application/rss+xml")
            feed = core.add_feed(COLLECTION, site.url(f"/f{n}.xml"))
            site.routes[f"/f{n}.xml"] = (
                lambda h, t=target: reply(h, b"", status=302, headers={"Location": t}))
            report = core.poll_feed(feed.id)
            assert report.status in ("paused", "failed"), (target, report)
            if "://" in target and not target.startswith(("file", "gopher")):
                assert report.status == "paused" and report.feed.paused, target
    assert internal.count() == 0
    only_the_site(seen, site)


def test_entries_linking_inside_are_refused_one_by_one(
        core: Core, site: FeedSite, internal: FeedSite) -> None:
    items = [{"title": f"Entry {n}", "link": t.replace("&", "&amp;"), "guid": f"e{n}"}
             for n, t in enumerate(targets(site, internal))]
    site.page("/feed.xml", rss(items), "application/rss+xml")
    with connections() as seen:
        feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
        report = core.poll_feed(feed.id)
        again = core.poll_feed(feed.id)
    failed = [t for t in report.taken if t.status == "failed"]
    assert report.status == "quiet" and len(report.taken) == len(failed) > 0
    assert again.status == "not-modified"  # refused for good: not tried on every poll
    assert core.stats(COLLECTION).articles == 0
    assert internal.count() == 0
    only_the_site(seen, site)


def test_a_page_naming_an_internal_feed_is_refused(
        core: Core, site: FeedSite, internal: FeedSite) -> None:
    links = "".join(f'<link rel="alternate" type="application/rss+xml" href="{t}">'
                    for t in targets(site, internal)[:3])
    site.page("/", f"<html><head>{links}</head><body>front</body></html>".encode())
    with connections() as seen, pytest.raises(Exception, match="names no feed"):
        core.add_feed(COLLECTION, site.url("/"))
    assert internal.count() == 0 and core.feeds(COLLECTION) == []
    only_the_site(seen, site)


def test_a_polled_feed_with_external_entities_fetches_nothing(
        core: Core, site: FeedSite, internal: FeedSite, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("FILE-SECRET")
    doc = (f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n'
           f'<!ENTITY a SYSTEM "http://127.0.0.1:{internal.port}/admin">\n'
           f'<!ENTITY b SYSTEM "file://{secret}">\n'
           f'<!ENTITY c "flat">\n]>\n<rss version="2.0"><channel><title>&a;&b;&c;</title>'
           f"<item><title>x &a; &b;</title><guid>1</guid></item></channel></rss>").encode()
    site.page("/feed.xml", doc, "application/rss+xml")
    with connections() as seen:
        feed = core.add_feed(COLLECTION, site.url("/feed.xml"))
        core.poll_feed(feed.id)
    shown = f"{feed.title}"
    assert "SECRET" not in shown and "flat" not in shown
    assert internal.count() == 0
    only_the_site(seen, site)
