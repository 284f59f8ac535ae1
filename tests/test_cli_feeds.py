"""`citebot feeds add | list | remove | poll --once`, configured only through the environment
(CITEBOT_FETCH_ALLOW_NETWORKS and CITEBOT_FETCH_ALLOW_PORTS open the local test site)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import Cli
from tests.feedsite import FeedSite
from tests.test_feeds import serve_news


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[FeedSite]:
    served = FeedSite()
    monkeypatch.setenv("CITEBOT_FETCH_ALLOW_NETWORKS", '["127.0.0.1/32"]')
    monkeypatch.setenv("CITEBOT_FETCH_ALLOW_PORTS", f"[80, 443, {served.port}]")
    yield served
    served.close()


def test_feeds_from_the_command_line(cli: Cli, site: FeedSite) -> None:
    serve_news(site, ["harbor"])
    code, out, err = cli("feeds", "add", site.url("/feed.xml"))
    assert code == 0 and out.startswith("following feed 1: Averly Gazette"), err
    code, out, _ = cli("feeds", "poll", "--once")
    assert code == 0 and "feed 1 (Averly Gazette): 1 added" in out
    code, out, _ = cli("ask", "What did Mayor Ortiz say about families?")
    assert "We cannot ask families to rebuild" in out
    before = len(site.seen)
    code, out, _ = cli("feeds", "poll", "--once")  # nothing is due yet: no request at all
    assert code == 0 and out == "" and len(site.seen) == before
    code, out, _ = cli("feeds", "list", "--json")
    (feed,) = json.loads(out)
    assert feed["articles"] == 1 and feed["etag"] and feed["paused"] is None
    code, out, _ = cli("feeds", "list")
    assert out.startswith("1  Averly Gazette  http://127.0.0.1:") and "1 articles" in out
    code, out, _ = cli("feeds", "remove", "1")
    assert code == 0 and out.startswith("removed feed 1")
    code, _, err = cli("feeds", "remove", "1")
    assert code == 1 and "follows no feed '1'" in err


def test_a_port_that_is_not_allowed_is_refused(cli: Cli, site: FeedSite,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEBOT_FETCH_ALLOW_PORTS", "[80, 443]")
    serve_news(site, ["harbor"])
    code, _, err = cli("feeds", "add", site.url("/feed.xml"))
    assert code == 1 and f"this link uses {site.port}" in err and site.seen == []
