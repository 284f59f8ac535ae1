"""`citebot feeds add | list | remove | poll --once`, configured only through the environment
(CITEBOT_FETCH_ALLOW_NETWORKS and CITEBOT_FETCH_ALLOW_PORTS open the local test site)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.conftest import Cli
from tests.feedsite import FeedSite, reply
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


def test_a_feed_refused_by_a_setting_waits_for_the_setting(
        cli: Cli, site: FeedSite, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal caused by the configuration is not the feed's fault: it is reported, the
    run fails (for cron), and the feed is polled again once the setting allows it."""
    monkeypatch.setenv("CITEBOT_FEED_INTERVAL_S", "1")
    serve_news(site, ["harbor"])
    code, _, err = cli("feeds", "add", site.url("/feed.xml"))
    assert code == 0, err
    allowed, before = f"[80, 443, {site.port}]", len(site.seen)
    monkeypatch.setenv("CITEBOT_FETCH_ALLOW_PORTS", "[80, 443]")
    code, _, err = cli("feeds", "poll", "--once")
    assert code == 1 and "CITEBOT_FETCH_ALLOW_PORTS" in err, err
    assert len(site.seen) == before
    code, out, _ = cli("feeds", "list", "--json")
    (feed,) = json.loads(out)
    assert feed["paused"] is None and feed["failures"] == 0 and feed["last_error"]
    monkeypatch.setenv("CITEBOT_FETCH_ALLOW_PORTS", allowed)
    time.sleep(max(0.0, feed["next_poll_at"] - time.time()) + 0.05)
    code, out, err = cli("feeds", "poll", "--once")
    assert code == 0 and "1 added" in out, (out, err)


def test_a_cron_run_whose_every_feed_failed_exits_non_zero(cli: Cli, site: FeedSite) -> None:
    serve_news(site, ["harbor"])
    code, _, _ = cli("feeds", "add", site.url("/feed.xml"))
    assert code == 0
    site.routes["/feed.xml"] = lambda h: reply(h, b"gone", status=500)
    code, _, err = cli("feeds", "poll", "--once")
    assert code == 1 and "failed" in err


def test_an_address_that_is_not_text_is_refused_in_a_sentence(cli: Cli, site: FeedSite) -> None:
    """A byte that is not UTF-8 on the command line arrives as a lone surrogate."""
    for bad in (site.url("/feed\udcff.xml"), site.url("/feed\x00.xml")):
        code, _, err = cli("feeds", "add", bad)
        assert code == 1 and err.startswith("citebot: That address holds"), err
    assert site.seen == []
