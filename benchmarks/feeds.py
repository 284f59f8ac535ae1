"""Feed figures for docs/FEEDS.md, measured against a local news site on 127.0.0.1.

    .venv/bin/python benchmarks/feeds.py [--polls 100]

Prints: what a new entry and an unchanged feed cost (requests, entries worked on), duplicates
after N polls of a feed whose entries change order, ids and query strings, connections that
left for anything but the test site in the hostile cases, and how long a feed of 100,000
entries takes to read. Uses the deterministic test embedder: these are intake figures, not
model figures.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from index.ingest.feeds import parse_feed  # noqa: E402
from retrieval.core import Core  # noqa: E402
from tests.fakes import HashEmbedder  # noqa: E402
from tests.feedsite import FeedSite, connections, reply, rss  # noqa: E402
from tests.test_feeds import QUOTES, serve_news  # noqa: E402
from tests.test_feeds_hostile import INTERNAL_TARGETS  # noqa: E402


def open_core(data: Path, site: FeedSite) -> Core:
    settings = Settings(_env_file=None, data_dir=data,  # type: ignore[call-arg]
                        fetch_allow_networks=("127.0.0.1/32",), fetch_allow_ports=(site.port,),
                        min_score=-1.0, feed_interval_s=60.0)
    return Core.open(settings, embedder=HashEmbedder())


def new_and_unchanged(core: Core, site: FeedSite) -> None:
    serve_news(site, ["harbor"])
    feed = core.add_feed("bench", site.url("/feed.xml"))
    core.poll_feed(feed.id)
    serve_news(site, ["library", "harbor"])
    before = len(site.seen)
    report = core.poll_feed(feed.id)
    found = core.ask("bench", "Until when will the library stay open on Saturdays?")
    print(f"new entry: 1 poll, {len(site.seen) - before} requests (feed + its page), "
          f"{len(report.added)} article added; answerable by /ask: "
          f"{'until 9 p.m.' in found.quotes[0].text if found.quotes else False}")
    before = len(site.seen)
    report = core.poll_feed(feed.id)
    conditional = all("if-none-match" in s.headers for s in site.seen[before:])
    print(f"unchanged feed: {len(site.seen) - before} request (conditional: {conditional}), "
          f"status {report.status}, {len(report.taken)} entries worked on")


def churn(core: Core, site: FeedSite, polls: int) -> None:
    slugs = list(QUOTES)
    for slug in slugs:
        site.article(slug, QUOTES[slug])
    rng = random.Random(5)
    feed_id = None
    pages_before = site.count("/news/")
    for poll in range(polls):
        items = [{"title": s.title(), "guid": f"{s}-{poll}-{rng.randrange(10**6)}",
                  "link": site.url(f"/news/{s}?utm_source=p{poll}&amp;ref=r{poll}"),
                  "description": f"About the {s}."} for s in rng.sample(slugs, len(slugs))]
        site.page("/churn.xml", rss(items), "application/rss+xml")
        feed_id = feed_id or core.add_feed("churn", site.url("/churn.xml")).id
        core.poll_feed(feed_id)
    articles = core.stats("churn").articles
    print(f"{polls} polls, entries reordered with new GUIDs and query strings each time: "
          f"{articles} articles for {len(slugs)} stories, {articles - len(slugs)} duplicates, "
          f"{site.count('/news/') - pages_before} page fetches")


def hostile(core: Core, site: FeedSite, internal: FeedSite) -> None:
    targets = [t.format(internal=internal.port, port=site.port) for t in INTERNAL_TARGETS]
    with connections() as seen:
        for n, target in enumerate(targets):
            site.page(f"/h{n}.xml", rss([]), "application/rss+xml")
            feed = core.add_feed("hostile", site.url(f"/h{n}.xml"))
            site.routes[f"/h{n}.xml"] = (
                lambda h, t=target: reply(h, b"", status=302, headers={"Location": t}))
            core.poll_feed(feed.id)
        items = [{"title": f"E{n}", "link": t.replace("&", "&amp;"), "guid": f"e{n}"}
                 for n, t in enumerate(targets)]
        site.page("/entries.xml", rss(items), "application/rss+xml")
        core.poll_feed(core.add_feed("hostile", site.url("/entries.xml")).id)
    outside = [c for c in seen if (str(c[0]), c[1]) != ("127.0.0.1", site.port)]
    print(f"hostile: {len(targets)} redirects and {len(targets)} entry links aimed inside: "
          f"{internal.count()} requests reached the internal service, {len(outside)} "
          f"connections to anything but the test site ({len(seen)} to it)")


def huge() -> None:
    items = b"".join(b"<item><title>S%d</title><link>http://127.0.0.1/a/%d</link>"
                     b"<guid>g%d</guid></item>" % (i, i, i) for i in range(100_000))
    body = b'<?xml version="1.0"?><rss version="2.0"><channel>' + items + b"</channel></rss>"
    start = time.perf_counter()
    feed = parse_feed(body, "http://127.0.0.1/feed")
    print(f"feed of 100,000 entries ({len(body) / 1e6:.1f} MB): {len(feed.entries)} entries "
          f"read in {time.perf_counter() - start:.2f} s (the rest never parsed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=100)
    args = parser.parse_args()
    site, internal = FeedSite(), FeedSite()
    try:
        with tempfile.TemporaryDirectory() as tmp, open_core(Path(tmp), site) as core:
            new_and_unchanged(core, site)
            churn(core, site, args.polls)
            hostile(core, site, internal)
        huge()
    finally:
        site.close()
        internal.close()


if __name__ == "__main__":
    main()
