"""`citebot list | remove | rebuild | stats`: a collection's articles and its index."""

from __future__ import annotations

import argparse

from bot.cli.context import Commands, Context
from bot.cli.empty import no_articles
from bot.cli.terminal import complain, progress, say, to_json


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    lst = commands.add_parser("list", parents=[common], help="list articles, newest first")
    lst.add_argument("--limit", type=int, default=100)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_list)
    rm = commands.add_parser("remove", parents=[common], help="remove an article")
    rm.add_argument("article_id", metavar="ARTICLE_ID")
    rm.set_defaults(handler=cmd_remove)
    commands.add_parser(
        "rebuild", parents=[common],
        help="re-embed every article into a new index (e.g. after changing model)",
    ).set_defaults(handler=cmd_rebuild)
    st = commands.add_parser("stats", parents=[common], help="counts and index details")
    st.add_argument("--json", action="store_true")
    st.set_defaults(handler=cmd_stats)


def cmd_list(ctx: Context) -> int:
    with ctx.core() as core:
        articles = core.articles(ctx.collection, limit=ctx.args.limit)
        empty = None if articles else no_articles(core, ctx.collection)
    if ctx.args.json:
        print(to_json([a.__dict__ for a in articles], indent=2))
        return 0
    if empty:
        say(empty)
    for a in articles:
        meta = " · ".join(x for x in (a.source, a.published) if x)
        say(f"{a.id}  {a.title}" + (f"  ({meta})" if meta else "")
            + f"  [{a.paragraph_count} ¶]")
    return 0


def cmd_remove(ctx: Context) -> int:
    with ctx.core() as core:
        article = core.remove(ctx.collection, ctx.args.article_id)
    say(f"removed: {article.id}  {article.title}")
    return 0


def cmd_rebuild(ctx: Context) -> int:
    with ctx.core() as core:
        total = core.stats(ctx.collection).articles
        with progress(total, "rebuilding") as tick:
            count = core.rebuild(ctx.collection, lambda done, _: tick(1))
    say(f"rebuilt {ctx.collection!r}: {total} articles, {count} vectors")
    return 0


def cmd_stats(ctx: Context) -> int:
    with ctx.core() as core:
        stats = {**core.stats(ctx.collection).to_json(), "reader": core.reader_name()}
        empty = None if stats["articles"] else no_articles(core, ctx.collection)
    if empty:
        complain(empty)
    if ctx.args.json:
        print(to_json(stats, indent=2))
    else:
        for key, value in stats.items():
            say(f"{key:>12}: {value}")
    return 0
