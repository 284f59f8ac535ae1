"""`citebot feeds add | list | remove | poll`: feeds from the command line (docs/FEEDS.md).

`citebot run` polls in the background; `citebot feeds poll --once` polls what is due and
exits (for cron), and `citebot feeds poll` keeps polling until interrupted.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from typing import Any

from bot.cli.context import Commands, Context, data_dir_options
from bot.cli.terminal import complain, say, to_json
from index.ingest.feeds import TITLE_CHARS
from index.intake.poller import PollReport
from index.store import Feed

LOOP_WAIT_S = (1.0, 60.0)  # the loop looks again when the next feed is due, within these


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """The `feeds` command and its actions."""
    feeds = commands.add_parser(
        "feeds", help="follow feeds (RSS, Atom, JSON Feed): add, list, remove, poll",
        description="Follow feeds: new entries become articles of the collection. `citebot "
        "run` polls them in the background; `citebot feeds poll --once` suits cron.")
    actions = feeds.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[common], help="follow a feed, or the feed a "
                             "page names (following it again resumes a paused one)")
    add.add_argument("url", help="the feed's address, or a page that names its feed")
    lst = actions.add_parser("list", parents=[common], help="the feeds and their state")
    lst.add_argument("--json", action="store_true")
    rm = actions.add_parser("remove", parents=[common],
                            help="stop following a feed (its articles stay)")
    rm.add_argument("feed", metavar="NUMBER|URL", help="the feed's number (from list) or URL")
    poll = actions.add_parser(
        "poll", parents=[data_dir_options()], help="poll the due feeds of every collection",
        description="Poll every feed that is due, in every collection, politely (one request "
        "per host at a time). Without --once, keep polling until interrupted.")
    poll.add_argument("--once", action="store_true", help="poll what is due once, then exit "
                      "(status 1 when every feed polled failed: for cron)")
    feeds.set_defaults(handler=cmd_feeds)


def cmd_feeds(ctx: Context) -> int:
    action = ctx.args.feeds_command
    with ctx.core() as core:
        if action == "add":
            feed = core.add_feed(ctx.collection, ctx.args.url, added_by="command line")
            say(f"following feed {feed.id}: {_title(feed) or '(untitled)'}  {feed.url}")
        elif action == "list":
            feeds = core.feeds(ctx.collection)
            if ctx.args.json:
                print(to_json([asdict(f) for f in feeds], indent=2))
            elif not feeds:
                say(f"No feeds in collection {ctx.collection!r}; add one with "
                    "`citebot feeds add URL`.")
            for feed in feeds if not ctx.args.json else []:
                say(feed_line(feed, time.time()))
        elif action == "remove":
            feed = core.remove_feed(ctx.collection, ctx.args.feed)
            say(f"removed feed {feed.id}: {_title(feed) or feed.url} (its articles stay)")
        else:
            return _poll(core, once=ctx.args.once)
    return 0


def _poll(core: Any, *, once: bool) -> int:
    while True:
        removed = core.apply_retention()
        if removed:
            say(f"retention removed {removed} article(s)")
        reports = core.poll_due()
        for report in reports:
            _report(report)
        if once:  # for cron: a run in which every feed polled failed is a failed run
            failed = [r for r in reports if r.status in ("failed", "paused")]
            if reports and len(failed) == len(reports):
                complain(f"every feed polled ({len(reports)}) failed; see the reasons above.")
                return 1
            return 0
        due = [f.next_poll_at for f in core.feeds(None) if not f.paused]
        wait = min(due, default=time.time() + LOOP_WAIT_S[1]) - time.time()
        time.sleep(min(max(wait, LOOP_WAIT_S[0]), LOOP_WAIT_S[1]))


def _report(report: PollReport) -> None:
    feed = report.feed
    name = f"feed {feed.id} ({_title(feed) or feed.url})"
    if report.status in ("failed", "paused"):
        complain(f"{name}: {report.status}: {report.error}")
        return
    counts = {s: sum(t.status == s for t in report.taken) for s in
              ("added", "updated", "failed", "deferred")}
    shown = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or report.status
    say(f"{name}: {shown}; next poll in {_span(feed.next_poll_at - time.time())}")


def feed_line(feed: Feed, now: float) -> str:
    """One feed for a terminal: number, title, address, articles, state."""
    state = (f"paused: {feed.paused}" if feed.paused
             else f"next poll in {_span(feed.next_poll_at - now)}")
    if feed.last_error and not feed.paused:
        row = f" ({feed.failures} in a row)" if feed.failures else ""  # 0: a setting refused it
        state += f"; last poll failed{row}: {feed.last_error}"
    return f"{feed.id}  {_title(feed) or '(untitled)'}  {feed.url}  [{feed.articles} articles; " \
        f"{state}]"


def _title(feed: Feed) -> str:
    """A feed's title for one line (one stored by an older citebot may be any length)."""
    return (feed.title or "")[:TITLE_CHARS]


def _span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"
