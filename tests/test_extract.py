"""Tests for index.ingest.extract with real trafilatura and real worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.errors import ExtractionError, MissingDependencyError
from index.ingest.extract import (
    Extracted,
    Extractor,
    extract_html,
)

PARAGRAPHS = [
    "The city council voted 31 to 12 on Wednesday night to rebuild the tram line that ran along "
    "the harbour until 1958, ending a debate that has lasted more than a decade.",
    "The first section, between the central station and the fish market, is expected to open in "
    "2027. Construction will cost an estimated 240 million euros, two thirds of which will come "
    "from the regional government.",
    '"This is the most important transport decision the city has made in my lifetime," said '
    'councillor Henrik Dahl, who chaired the transport committee. "People have asked for this '
    'for years."',
    "Opponents argued that electric buses would have been cheaper and faster to introduce. Shop "
    "owners along the route also fear that two years of roadworks will drive customers away.",
    "The council promised a compensation fund for affected businesses and said detailed plans "
    "will be published for consultation in the autumn.",
]
NOISE = [
    "Sign in",
    "Related news",
    "Bus fares to rise in May",
    "New bridge opens to cyclists",
    "ADVERTISEMENT",
    "SuperPhone",
    "Sponsored",
    "All rights reserved",
    "Privacy policy",
]
CANONICAL = '<link rel="canonical" href="https://news.example.org/city/2024/03/14/tram-line-vote">'


def news_page(canonical: str = CANONICAL) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Harbour city votes to rebuild the old tram line | The Coastal Herald</title>
<meta property="og:title" content="Harbour city votes to rebuild the old tram line">
<meta property="og:site_name" content="The Coastal Herald">
<meta name="author" content="Maria Okafor">
<meta property="article:published_time" content="2024-03-14T09:30:00Z">
{canonical}
</head><body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/city">City</a></li>
<li><a href="/login">Sign in</a></li></ul></nav></header>
<div class="ad-banner">ADVERTISEMENT: Buy the new SuperPhone today, limited offer!</div>
<main><article>
<h1>Harbour city votes to rebuild the old tram line</h1>
<p class="byline">By <span class="author">Maria Okafor</span> ·
<time datetime="2024-03-14">14 March 2024</time></p>
{body}
</article>
<aside class="related"><h2>Related news</h2><ul>
<li><a href="/a">Bus fares to rise in May</a></li>
<li><a href="/b">New bridge opens to cyclists</a></li></ul></aside>
<div class="advert">Sponsored: Holiday deals you will not believe, click here now</div>
</main>
<footer><p>© 2024 The Coastal Herald. All rights reserved.</p>
<ul><li><a href="/privacy">Privacy policy</a></li></ul></footer>
</body></html>"""


def test_extracts_metadata_and_paragraphs() -> None:
    extracted = extract_html(news_page(), url="https://news.test/tram")
    assert extracted.title == "Harbour city votes to rebuild the old tram line"
    assert extracted.author == "Maria Okafor"
    assert extracted.published == "2024-03-14"
    assert extracted.source == "The Coastal Herald"
    assert extracted.url == "https://news.example.org/city/2024/03/14/tram-line-vote"
    blocks = extracted.text.split("\n\n")
    assert [b for b in blocks if b in PARAGRAPHS] == PARAGRAPHS  # all of them, in order, verbatim
    assert "\n\n\n" not in extracted.text


def test_drops_navigation_ads_related_news_and_footer() -> None:
    text = extract_html(news_page()).text
    assert [noise for noise in NOISE if noise in text] == []


def test_url_falls_back_to_the_given_one() -> None:
    extracted = extract_html(news_page(canonical=""), url="https://news.test/tram")
    assert extracted.url == "https://news.test/tram"


def test_line_breaks_inside_a_paragraph_stay_single() -> None:
    page = news_page().replace(
        "<p>Opponents", "<p>First line<br>second line of it.</p><p>Opponents"
    )
    assert "\nFirst line\nsecond line of it.\n\n" in extract_html(page).text


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<html><body></body></html>",
        "<html><body><p>Too short to be an article.</p></body></html>",
        "<html><body>"
        + "<p>#$%^&* 12345 67890 ==> ||| 0xDEAD 42 !!! ?? 2024-01-01</p>" * 12
        + "</body></html>",
    ],
    ids=["empty", "no-text", "too-short", "garbage"],
)
def test_unusable_pages_raise(html: str) -> None:
    with pytest.raises(ExtractionError):
        extract_html(html)

ROOT = Path(__file__).resolve().parents[1]

# --- Isolation in a worker process ---------------------------------------------------------------
# Targets are pickled by reference, so they live at module level.


def _sleepy(html: str, url: str | None) -> Extracted:
    time.sleep(30)
    raise AssertionError("should have been killed")


def _crash(html: str, url: str | None) -> Extracted:
    os._exit(3)


def _pid(html: str, url: str | None) -> Extracted:
    return Extracted(None, None, None, None, url, str(os.getpid()))


@pytest.fixture
def workers() -> Iterator[Extractor]:
    extractor = Extractor()
    yield extractor
    extractor.close()


def test_isolated_matches_in_process_and_reuses_its_worker(workers: Extractor) -> None:
    page = news_page()
    assert workers.extract(page, "https://news.test/tram") == extract_html(
        page, "https://news.test/tram"
    )
    first = workers.extract("", _target=_pid).text
    assert first != str(os.getpid())
    assert workers.extract("", _target=_pid).text == first


def test_isolated_passes_extraction_errors_through(workers: Extractor) -> None:
    with pytest.raises(ExtractionError, match="too little article text"):
        workers.extract("<html><body><p>Too short.</p></body></html>")


def test_isolated_times_out_then_recovers(workers: Extractor) -> None:
    before = workers.extract("", _target=_pid).text  # warm a worker: start-up is not timed
    started = time.monotonic()
    with pytest.raises(ExtractionError, match=r"longer than 0\.5 seconds"):
        workers.extract("", timeout_s=0.5, _target=_sleepy)
    assert time.monotonic() - started < 1.5
    with pytest.raises(ProcessLookupError):  # the stuck worker was killed, not left behind
        os.kill(int(before), 0)
    after = workers.extract("", _target=_pid).text
    assert after != before


def test_isolated_survives_a_crashing_worker(workers: Extractor) -> None:
    with pytest.raises(ExtractionError, match="crashed"):
        workers.extract("", _target=_crash)
    assert workers.extract(news_page()).author == "Maria Okafor"


def _spin(html: str, url: str | None) -> Extracted:
    Path(str(url)).touch()  # tell the test the job has started
    while True:
        pass


_PARENT = """
import multiprocessing, sys, threading, time
from pathlib import Path
from index.ingest.extract import Extractor
from tests.test_extract import _spin
marker = sys.argv[1]
threading.Thread(target=Extractor().extract, args=("", marker),
                 kwargs={"timeout_s": 600, "_target": _spin}, daemon=True).start()
while not Path(marker).exists():
    time.sleep(0.05)
print(multiprocessing.active_children()[0].pid, flush=True)
time.sleep(600)
"""


def _gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_worker_mid_job_dies_with_its_parent(sig: int, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(marker)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        os.kill(parent.pid, sig)
        parent.wait(timeout=30)
        assert _gone(worker, within_s=10), "the extraction worker outlived its parent"
    finally:
        parent.kill()
        parent.wait()


def _needs_missing_package(html: str, url: str | None) -> Extracted:
    raise ModuleNotFoundError("No module named 'lxml_html_clean'", name="lxml_html_clean")


def test_a_missing_dependency_is_named(workers: Extractor) -> None:
    with pytest.raises(MissingDependencyError, match="'lxml_html_clean' is missing"):
        workers.extract("", _target=_needs_missing_package)


def test_the_html_cleaner_is_a_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("lxml_html_clean") for d in project["dependencies"])
