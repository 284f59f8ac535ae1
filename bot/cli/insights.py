"""`citebot insights [enable|disable]`: what members asked that nothing answered.

Off until enabled per collection. While on, questions answered "not found" and answers voted
👎 are kept (never who asked or voted) for the retention; `citebot insights` shows the top
gaps of the last days, alike questions grouped; `disable` deletes what was kept
(docs/OPERATING.md, "Insights").
"""

from __future__ import annotations

import argparse
import time

from bot.cli.context import Commands, Context
from bot.cli.terminal import complain, say, to_json
from retrieval.insights import DEFAULT_DAYS, DEFAULT_RETENTION_DAYS, Gap, InsightReport

KIND_NAMES = {"not_found": "not found", "voted_down": "voted down"}


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """The `insights` command: show (the default), enable, disable."""
    insights = commands.add_parser(
        "insights", parents=[common],
        help="what members asked that nothing answered: show, enable, disable",
        description="Show the top gaps of a collection: questions answered \"not found\" and "
        "answers voted down in the last days, alike questions grouped. Off until enabled; "
        "never keeps who asked or voted; `disable` deletes what was kept.")
    insights.add_argument("action", nargs="?", default="show",
                          choices=("show", "enable", "disable"),
                          help="show the gaps (default), turn insights on, or turn them off")
    insights.add_argument("--days", type=int, default=DEFAULT_DAYS,
                          help="show the questions of the last N days (default: %(default)s)")
    insights.add_argument("--retention-days", type=int, default=None,
                          help="with enable: keep questions N days "
                          f"(default: {DEFAULT_RETENTION_DAYS}; 1-365)")
    insights.add_argument("--json", action="store_true", help="show the report as JSON")
    insights.set_defaults(handler=cmd_insights)


def cmd_insights(ctx: Context) -> int:
    args = ctx.args
    if args.retention_days is not None and args.action != "enable":
        complain("--retention-days goes with `citebot insights enable`; nothing was changed.")
        return 2
    with ctx.core() as core:
        if args.action == "enable":
            days = args.retention_days
            switch = core.enable_insights(
                ctx.collection, DEFAULT_RETENTION_DAYS if days is None else days)
            say(f"Insights on for collection {ctx.collection!r}: questions answered \"not "
                f"found\" and answers voted down are kept for {switch.retention_days} days "
                "(never who asked or voted).")
        elif args.action == "disable":
            deleted = core.disable_insights(ctx.collection)
            say(f"Insights off for collection {ctx.collection!r}; deleted {deleted} kept "
                f"question{'s' if deleted != 1 else ''}.")
        else:
            report = core.insights_report(ctx.collection, args.days)
            if args.json:
                print(to_json(report.to_json(), indent=2))
            else:
                for line in report_lines(report, ctx.collection):
                    say(line)
    return 0


def report_lines(report: InsightReport, collection: str) -> list[str]:
    """The report for a terminal: a heading, then a line a gap."""
    if report.switch is None:
        return [f"Insights are off for collection {collection!r}; turn them on with "
                f"`citebot insights enable --collection {collection}`."]
    if not report.gaps:
        return [f"No unanswered or down-voted questions in collection {collection!r} in the "
                f"last {report.days} days."]
    head = (f"Collection {collection!r}, the last {report.days} days (questions are kept "
            f"{report.switch.retention_days} days): {report.questions_shown}, "
            f"{len(report.gaps)} gaps (the most asked first)")
    return [head, *(gap_line(g) for g in report.gaps)]


def gap_line(gap: Gap) -> str:
    kinds = ", ".join(f"{n} {KIND_NAMES.get(k, k)}" for k, n in gap.kinds.items())
    wordings = f"; {gap.variants} wordings" if gap.variants > 1 else ""
    last = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(gap.last_at))
    return f"  {gap.count}\u00d7 {' '.join(gap.question.split())}  [{kinds}{wordings}; " \
        f"last asked {last}]"
