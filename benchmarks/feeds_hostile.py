"""Time and peak memory of one poll of each hostile feed the red team sent, for
docs/RELIABILITY.md, against a local site on 127.0.0.1.

    .venv/bin/python benchmarks/feeds_hostile.py [--case NAME]

Each case runs in a process of its own (so that its peak resident memory is its own): a feed
is subscribed while it is harmless, then replaced by the hostile document and polled once.
Prints the poll's status, its wall time and the process's peak memory above what it held
before the poll. Uses the deterministic test embedder: these are intake figures.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from retrieval.core import Core  # noqa: E402
from tests.fakes import HashEmbedder  # noqa: E402
from tests.feedsite import FeedSite, reply  # noqa: E402

HEAD = b'<?xml version="1.0" encoding="utf-8"?>'
RSS = b'<rss version="2.0"><channel><title>T</title><link>/</link>'
END = b"</channel></rss>"
WORDS = " ".join(f"Word{i} of the story." for i in range(60))


def item(title: bytes, author: bytes = b"") -> bytes:
    return (b"<item><title>" + title + b"</title><guid>g</guid><author>" + author
            + b"</author><description>" + WORDS.encode() + b"</description></item>")


def surrogates() -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "\ud800 \x00",
                       "items": [{"id": "\udc00", "title": "Half \ud83d", "content_text": WORDS}]
                       }).encode()


def amplified() -> bytes:
    """An internal entity hidden from a naive DOCTYPE cut, referenced 3.1 million times."""
    entity = b"<!ENTITY a '" + b"A" * 400 + b"'>"
    refs = b"&a;" * 3_100_000
    return HEAD + b"<!-- <a --><!DOCTYPE rss [" + entity + b"]>" + RSS + item(refs) + END


def large_entity() -> bytes:
    """A 9 MB internal entity hidden the same way, referenced 30 times (under expat's limit)."""
    entity = b"<!ENTITY a '" + b"A " * 4_500_000 + b"'>"
    return HEAD + b"<!-- <a --><!DOCTYPE rss [" + entity + b"]>" + RSS + item(b"&a;" * 30) + END


CASES: dict[str, tuple[str, Callable[[], bytes], dict[str, str]]] = {
    "surrogates": ("JSON Feed, lone surrogates and NUL in title and id", surrogates, {}),
    "doctype": ("9.3 MB, DOCTYPE behind '<!-- <a -->', 3.1 M entity references", amplified, {}),
    "doctype-gzip": ("the same, gzip-encoded", amplified, {"Content-Encoding": "gzip"}),
    "doctype-large": ("9 MB, DOCTYPE behind '<!-- <a -->', a 9 MB entity used 30 times",
                      large_entity, {}),
    "self-closed": ("1,400,000 <item/> (9.8 MB)",
                    lambda: HEAD + RSS + b"<item/>" * 1_400_000 + END, {}),
    "lt-a-208k": ("titles and authors of '&lt;a ', 208 KB",
                  lambda: HEAD + RSS + item(b"&lt;a " * 17_300, b"&lt;a " * 17_300) + END, {}),
    "lt-a-8m": ("titles and authors of '&lt;a ', 8 MB",
                lambda: HEAD + RSS + b"".join(item(b"&lt;a " * 6_600, b"&lt;a " * 6_600)
                                              for _ in range(100)) + END, {}),
    "channel-title": ("a channel title of 4.8 MB",
                      lambda: HEAD + b'<rss version="2.0"><channel><title>' + b"Gazette "
                      * 600_000 + b"</title>" + item(b"x") + END, {}),
    "markup": ("10 MB of <a href='x'> in 500 entries",
               lambda: HEAD + RSS + b"".join(item(b"t", b"<![CDATA[" + b"<a href='x'>" * 1_500
                                                  + b"]]>") for _ in range(500)) + END, {}),
    "entries": ("160,000 entries (9.4 MB)",
                lambda: HEAD + RSS + b"".join(b"<item><title>Story %d</title><guid>g%d</guid>"
                                              b"</item>" % (i, i) for i in range(160_000))
                + END, {}),
    "attributes": ("one element with 50,000 attributes (539 KB)",
                   lambda: HEAD + b'<rss version="2.0" ' + b" ".join(
                       b'a%d="v"' % i for i in range(50_000)) + b"><channel><title>T</title>"
                   + item(b"x") + END, {}),
    "big-token": ("an attribute value of 9 MB (one token)",
                  lambda: HEAD + RSS + item(b"x", b"").replace(
                      b"<guid>", b'<category a="' + b"v" * 9_000_000 + b'">c</category><guid>')
                  + END, {}),
    "json-items": ("JSON Feed of 2,400,000 empty items (9.6 MB)",
                   lambda: b'{"version": "https://jsonfeed.org/version/1.1", "title": "T", '
                   b'"items": [' + b"{}, " * 2_400_000 + b"{}]}", {}),
    "gzip-13m": ("gzip decoding to 13.6 MB (limit 10 MB)",
                 lambda: HEAD + RSS + item(b"x") + b"<!-- padding -->" * 850_000 + END,
                 {"Content-Encoding": "gzip"}),
}


def one(name: str) -> None:
    label, build, headers = CASES[name]
    site = FeedSite()
    body = build()
    wire = gzip.compress(body) if headers.get("Content-Encoding") == "gzip" else body
    kind = "application/feed+json" if body.startswith(b"{") else "application/rss+xml"
    harmless = b'{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": []}'
    current = [HEAD + RSS + item(b"harmless") + END if kind.endswith("xml") else harmless]
    site.routes["/feed"] = lambda h: reply(h, current[0], kind, headers=served[0])
    served: list[dict[str, str]] = [{}]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp),  # type: ignore[call-arg]
                            fetch_allow_networks=("127.0.0.1/32",),
                            fetch_allow_ports=(site.port,), min_score=-1.0)
        with Core.open(settings, embedder=HashEmbedder()) as core:
            feed = core.add_feed("bench", site.url("/feed"))
            current[0], served[0] = wire, headers
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            start = time.perf_counter()
            report = core.poll_feed(feed.id)
            seconds = time.perf_counter() - start
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    site.close()
    said = f"{report.status}" + (f" ({report.error[:60]})" if report.error else "")
    print(f"{label:<58} {len(wire) / 1e6:6.2f} MB sent  {seconds:6.2f} s  "
          f"+{(peak - before) / 1024:5.0f} MB peak  {said}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES))
    args = parser.parse_args()
    if args.case:
        one(args.case)
        return
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name in CASES:
        subprocess.run([sys.executable, __file__, "--case", name], check=False, timeout=900)


if __name__ == "__main__":
    main()
