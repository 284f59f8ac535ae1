"""Reading feeds (index.ingest.feeds): the formats real outlets send, broken and hostile XML,
a very long feed, and finding a page's feed."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import feedparser
import pytest

from index.errors import FeedError
from index.ingest import feeds
from index.ingest.feeds import MAX_ENTRIES, discover, parse_feed
from tests.feedsite import FIXTURES, FeedSite, connections, parser_fed

FULLTEXT = " ".join(f"Sentence {i} of the whole article, as the feed carries it." for i in
                    range(40))
BASE = "http://127.0.0.1:8000/feeds/main.xml"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes().replace(b"FULLTEXT", FULLTEXT.encode())


def test_rss20_cdata_entities_relative_links_and_missing_dates() -> None:
    feed = parse_feed(fixture("rss20.xml"), BASE)
    assert feed.kind == "rss20" and feed.title == "The Averly Gazette \u2013 News"
    assert feed.link == "http://127.0.0.1:8000/" and feed.ttl_s == 30 * 60
    harbor, library, robotics = feed.entries
    assert harbor.title == "Port Averly approves flood barrier"  # CDATA, tags dropped
    assert harbor.link == "http://127.0.0.1:8000/news/harbor?utm_source=rss&utm_medium=feed"
    assert harbor.guid == "gazette-1001" and harbor.published == "2025-03-04"
    assert harbor.author == "Maria Lenz" and harbor.summary == "The council voted 7\u20132 on " \
        "Tuesday\u2026"
    assert harbor.content is None  # a teaser: the page is fetched
    assert library.title == "Library hours extended & caf\u00e9 opens"
    assert library.published is None and library.summary.startswith("Saturday hours")
    assert library.guid == "http://127.0.0.1:8000/news/library"  # relative guid resolved
    assert robotics.content is not None and robotics.content.startswith("Sentence 0 of")


def test_atom_rss10_rss091_and_json_feed() -> None:
    atom = parse_feed(fixture("atom.xml"), "http://127.0.0.1:8000/atom")
    assert atom.kind == "atom10" and atom.title == "Harbor Watch"
    first, undated = atom.entries
    assert first.link == "http://127.0.0.1:8000/blog/posts/barrier-costs"  # xml:base
    assert first.published == "2025-03-05" and first.summary == "Councilman Hale objects."
    assert undated.title == "Undated entry" and undated.published is None
    rdf = parse_feed(fixture("rss10.xml"), "http://127.0.0.1:8000/rdf")
    assert rdf.kind == "rss10" and [e.title for e in rdf.entries] == ["Tram line vote"]
    assert rdf.entries[0].published == "2025-02-10"
    old = parse_feed(fixture("rss091.xml"), "http://127.0.0.1:8000/old")
    assert old.kind.startswith("rss091") and old.entries[0].title == (
        "Caf\u00e9 reopens & \u201cthrives\u201d")
    assert old.entries[0].link == "http://127.0.0.1:8000/news/cafe"
    ledger = parse_feed(fixture("feed.json"), "http://127.0.0.1:8000/feed.json")
    assert ledger.kind == "json" and ledger.title == "JSON Ledger"
    budget, ferry, elsewhere = ledger.entries
    assert budget.title == "Budget & the bridge" and budget.published == "2025-03-01"
    assert budget.link == "http://127.0.0.1:8000/news/budget" and budget.guid == "ledger-1"
    assert ferry.guid == "2" and ferry.content and ferry.content.startswith("Sentence 0")
    assert elsewhere.link == "https://elsewhere.example/x"


def test_malformed_and_truncated_xml() -> None:
    whole = fixture("rss20.xml")
    cut = whole[: whole.index(b"<title>Library")]  # the connection dropped mid-document
    feed = parse_feed(cut, BASE)
    assert [e.title for e in feed.entries][:1] == ["Port Averly approves flood barrier"]
    broken = whole.replace(b"&amp; caf", b"& caf")  # a bare ampersand, common in the wild
    assert len(parse_feed(broken, BASE).entries) == 3
    for junk in (b"", b"not a feed at all", b"<html><body><p>hello</p></body></html>",
                 b"{\"version\": 1}", b"{not json", b"\x00\xff\xfe" * 100):
        with pytest.raises(FeedError):
            parse_feed(junk, BASE)


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY a "ABCDEFGHIJ">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
 <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
]>
<rss version="2.0"><channel><title>&h;</title>
<item><title>Bomb &h;</title><link>http://127.0.0.1/x</link><description>&h;&h;</description></item>
</channel></rss>"""
FLAT = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY flat "EXPANDED-FLAT-ENTITY">
]>
<rss version="2.0"><channel><title>t</title>
<item><title>Flat &flat;</title><link>http://127.0.0.1/x</link></item></channel></rss>"""


def test_no_entity_expands() -> None:
    """Nested (billion laughs), quadratic and even flat declared entities stay unexpanded;
    the flat case is what feedparser alone would expand, so it fails without the DOCTYPE cut."""
    quadratic = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY q "' + b"Q" * 50_000
                 + b'">]><rss version="2.0"><channel><title>t</title><item><title>'
                 + b"&q;" * 20_000 + b"</title><link>http://127.0.0.1/x</link></item>"
                 + b"</channel></rss>")
    one_line = BOMB.replace(b"\n", b"")  # declarations feedparser's own line regex misses
    tracemalloc.start()
    try:
        parsed = [parse_feed(doc, BASE) for doc in (BOMB, one_line, quadratic, FLAT)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    for feed in parsed:
        text = " ".join(f"{e.title} {e.summary}" for e in feed.entries) + str(feed.title)
        assert "ABCDEFGHIJABCDEFGHIJ" not in text and "QQQQQQ" not in text
        assert "EXPANDED-FLAT-ENTITY" not in text
        assert len(text) < 100_000
    assert peak < 50_000_000, peak
    # the layer that makes the flat case pass is ours: feedparser alone expands it
    raw = feedparser.parse(io.BytesIO(FLAT))
    assert "EXPANDED-FLAT-ENTITY" in raw.entries[0].title


def test_external_entities_and_dtds_are_never_fetched(site: FeedSite, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-FILE-CONTENT")
    site.page("/xxe", b"LEAKED-OVER-HTTP", "text/plain")
    url = site.url("/xxe")
    hostile = [
        f'<!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>',
        f'<!DOCTYPE rss [<!ENTITY x SYSTEM "{url}">]>',
        f'<!DOCTYPE rss [<!ENTITY % p SYSTEM "{url}"> %p;]>',
        f'<!DOCTYPE rss SYSTEM "{url}">',
        f'<!DOCTYPE rss PUBLIC "-//X//EN" "{url}">',
    ]
    with connections() as seen:
        for doctype in hostile:
            doc = (f'<?xml version="1.0"?>{doctype}<rss version="2.0"><channel><title>&x;'
                   f'</title><item><title>t &x;</title><link>http://127.0.0.1/a</link>'
                   f"</item></channel></rss>").encode()
            feed = parse_feed(doc, BASE)
            text = f"{feed.title} " + " ".join(e.title for e in feed.entries)
            assert "TOP-SECRET" not in text and "LEAKED" not in text
        # a body that is a path or a URL is a body: feedparser is never handed one to open
        for body in (str(secret).encode(), url.encode(), f"file://{secret}".encode()):
            with pytest.raises(FeedError):
                parse_feed(body, BASE)
    assert site.count() == 0 and seen == []


def test_only_the_first_entries_of_a_huge_feed_are_parsed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    items = b"".join(b"<item><title>Story %d</title><link>http://127.0.0.1/a/%d</link>"
                     b"<guid>g%d</guid></item>" % (i, i, i) for i in range(100_000))
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>' + items + \
        b"</channel></rss>"
    feed = parse_feed(body, BASE)
    assert feed.truncated and len(feed.entries) == MAX_ENTRIES
    assert feed.entries[-1].title == f"Story {MAX_ENTRIES - 1}"
    seen = parser_fed(monkeypatch)
    parse_feed(body, BASE)
    assert seen and seen[0] < len(body) // 100  # the parser saw about 1/200 of it
    json_items = ",".join(f'{{"id": {i}, "url": "/a/{i}", "title": "S{i}"}}'
                          for i in range(100_000))
    big = f'{{"version": "https://jsonfeed.org/version/1", "items": [{json_items}]}}'
    assert len(parse_feed(big.encode(), BASE).entries) == MAX_ENTRIES


def test_discovery_reads_alternate_links_in_the_head() -> None:
    page = """<!doctype html><html><head><title>x</title>
    <link rel="stylesheet" href="/s.css">
    <link rel="alternate" type="application/atom+xml" title="Atom" href="/feed.atom">
    <link rel="alternate" type="application/rss+xml" href="https://other.example/rss">
    <link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
    <link rel="alternate" type="application/feed+json" href="javascript:alert(1)">
    </head><body><link rel="alternate" type="application/rss+xml" href="/late.xml"></body>"""
    assert discover(page, "https://news.example/section/page") == [
        "https://news.example/feed.atom", "https://other.example/rss"]
    assert discover("<p>no head at all</p>", "https://news.example/") == []


def test_plain_paragraphs_from_entry_html() -> None:
    html = ("<div><p>One &amp; two.</p><script>alert(1)</script><p>Three<br>four</p>"
            "<figure><img src=x><figcaption>caption</figcaption></figure></div>")
    assert feeds._paragraphs(html) == "One & two.\n\nThree\n\nfour"


def test_the_html_scanner_reads_what_htmlparser_read() -> None:
    """The linear scanner that replaced HTMLParser (quadratic on unclosed tags) keeps its
    readings: quoted '>' in attributes, comments, skipped elements, a tag never closed."""
    cases = {
        "Why x <y matters": "Why x <y matters",
        '<a href="a>b">link</a> after': "link after",
        '<img alt="a > b">text': "text",
        "<script>if (a<b) {x}</script>ok": "ok",
        "one<!-- <p>hidden</p> -->two": "onetwo",
        "<p>caf&eacute; &#x263A; &amp;c</p>": "caf\u00e9 \u263a &c",
        "<a <a <a b": "<a <a <a b",
        "<UL><LI>One<LI>Two</UL>": "One\n\nTwo",
    }
    for html, text in cases.items():
        assert feeds._paragraphs(html) == text, html


def test_a_json_feed_of_countless_items_costs_what_is_read() -> None:
    body = (b'{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": ['
            + b'{"id": "x"}, ' * 300_000 + b"{}]}")  # 3.9 MB
    tracemalloc.start()
    try:
        feed = parse_feed(body, BASE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert feed.title == "T" and len(feed.entries) == MAX_ENTRIES and feed.truncated
    assert peak < 30_000_000, peak  # every item built: 62 MB


def test_discovery_skips_links_in_comments() -> None:
    page = ('<html><head><!-- <link rel="alternate" type="application/rss+xml" href="/old">'
            ' --><link rel="alternate" type="application/rss+xml" href="/new"><!-- x -->'
            '<link rel="alternate" type="application/atom+xml" href="/atom"><!-- '
            '<link rel="alternate" type="application/rss+xml" href="/unclosed"></head>')
    assert discover(page, "https://news.example/") == [
        "https://news.example/new", "https://news.example/atom"]
