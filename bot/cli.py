"""The command-line tool: ``citebot add | ask | list | remove | rebuild | stats | run | eval``.

It only parses arguments, calls the core and renders; core errors become one clear line on
stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TextIO

from config.settings import Settings
from index.errors import CitebotError
from index.indexer import AddResult

log = logging.getLogger("citebot")

EPILOG = """environment: every setting can be given as CITEBOT_<NAME> (for example CITEBOT_DATA_DIR,
CITEBOT_MODEL, CITEBOT_DISCORD_TOKEN) or in a .env file; see the README."""


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day like 2024-05-31") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citebot", epilog=EPILOG,
        description="Answer questions about news articles with verbatim, cited quotes.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging (-v info, -vv debug)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--collection", default="default",
                        help="collection to use (default: %(default)s)")
    common.add_argument("--data-dir", type=Path,
                        help="data directory (default: $CITEBOT_DATA_DIR or ./citebot-data)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add = sub.add_parser("add", parents=[common], help="add articles (URLs, files, text, JSONL)",
                         description="Add articles: URLs are fetched, .html files extracted, "
                         ".txt/.md files take their first line as the title. Adding the same "
                         "article again updates it in place.")
    add.add_argument("sources", nargs="*", metavar="URL|FILE",
                     help="http(s) URLs or files; '-' reads text from standard input")
    add.add_argument("--title", help="title for a text source (instead of its first line)")
    add.add_argument("--text", help="the article's text, pasted (needs --title)")
    add.add_argument("--jsonl", type=Path, metavar="FILE",
                     help='bulk add: one {"title", "text", "url"?, "id"?, "published"?, '
                     '"source"?} per line ("-" for standard input)')

    ask = sub.add_parser("ask", parents=[common], help="ask a question",
                         description="Answer a question with verbatim quotes and citations.")
    ask.add_argument("question", nargs="?", help="the question")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--jsonl", action="store_true",
                     help="read one question per line from standard input (plain text or "
                     '{"id": ..., "question": ..., "as_of": "YYYY-MM-DD"}), write one JSON '
                     "answer per line")
    ask.add_argument("--article", metavar="ID", help="only search this article")
    ask.add_argument("--as-of", type=_day, metavar="YYYY-MM-DD",
                     help="answer as on that day: articles published later are left out "
                     "(undated ones are kept)")

    lst = sub.add_parser("list", parents=[common], help="list articles, newest first")
    lst.add_argument("--limit", type=int, default=100)
    lst.add_argument("--json", action="store_true")

    rm = sub.add_parser("remove", parents=[common], help="remove an article")
    rm.add_argument("article_id", metavar="ARTICLE_ID")

    sub.add_parser("rebuild", parents=[common],
                   help="re-embed every article into a new index (e.g. after changing model)")
    st = sub.add_parser("stats", parents=[common], help="counts and index details")
    st.add_argument("--json", action="store_true")

    sub.add_parser("run", parents=[common], help="run the Discord bot",
                         description="Run the Discord bot (token from CITEBOT_DISCORD_TOKEN).")

    ev = sub.add_parser("eval", parents=[common],
                        help="measure answer quality on a question file, with baselines")
    ev.add_argument("file", type=Path, help="question set (JSON Lines, see docs/EVALUATION.md)")
    ev.add_argument("--output", type=Path, help="write the results as JSON here")
    ev.add_argument("--limit", type=int, help="only the first N questions")
    ev.add_argument("--no-baselines", action="store_true", help="score citebot only")
    ev.add_argument("--ignore-dates", action="store_true",
                    help="ask every question as of today instead of on its question_date")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
        handler: Callable[[argparse.Namespace, Settings], int] = COMMANDS[args.command]
        return handler(args, settings)
    except CitebotError as exc:
        print(f"citebot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("citebot: interrupted", file=sys.stderr)
        return 130


def _core(settings: Settings):  # type: ignore[no-untyped-def]
    from retrieval.core import Core

    return Core.open(settings)


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    if not (args.sources or args.jsonl or args.text):
        raise CitebotError("Nothing to add: give URLs or files, --text with --title, or --jsonl.")
    if args.text is not None and not args.title:
        raise CitebotError("Pasted text needs a title: add --title.")
    core = _core(settings)
    failures = 0
    try:
        if args.text is not None:
            _report(core.indexer.add_text(args.collection, title=args.title, text=args.text))
        for source in args.sources:
            try:
                _report(_add_one(core, args, source))
            except CitebotError as exc:
                failures += 1
                print(f"citebot: {source}: {exc}", file=sys.stderr)
        if args.jsonl:
            failures += _add_jsonl(core, args)
    finally:
        core.close()
    return 1 if failures else 0


def _add_one(core, args: argparse.Namespace, source: str) -> AddResult:  # type: ignore[no-untyped-def]
    if source.startswith(("http://", "https://")):
        return core.indexer.add_url(args.collection, source, title=args.title)
    if source == "-":
        return core.indexer.add_plain(args.collection, sys.stdin.read(), title=args.title)
    return core.indexer.add_file(args.collection, Path(source), title=args.title)


def _add_jsonl(core, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    failures = counts = 0
    tally = {"added": 0, "updated": 0, "unchanged": 0}
    with _open_input(args.jsonl) as fh:
        lines = list(fh)
    with progress(len(lines), "adding") as tick:
        for item in core.indexer.add_jsonl(args.collection, lines):
            tick(1)
            counts += 1
            if item.result is None:
                failures += 1
                print(f"citebot: {args.jsonl}:{item.line}: {item.error}", file=sys.stderr)
            else:
                tally[item.result.status] += 1
    print(f"{tally['added']} added, {tally['updated']} updated, {tally['unchanged']} unchanged, "
          f"{failures} failed")
    return failures


def _report(result: AddResult) -> None:
    a = result.article
    where = ", ".join(x for x in (a.source, a.published) if x)
    print(f"{result.status}: {a.id}  {a.title}" + (f" ({where})" if where else "")
          + f", {a.paragraph_count} paragraphs")


@contextmanager
def _open_input(path: Path) -> Iterator[TextIO]:
    if str(path) == "-":
        yield sys.stdin
        return
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CitebotError(f"Cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    yield io.StringIO(text)


@contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal; silent when stderr is piped."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=label, unit="article", file=sys.stderr) as bar:
        yield bar.update


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.render_text import render_answer

    if not args.jsonl and not (args.question or "").strip():
        raise CitebotError('Ask a question: citebot ask "what did ... say about ...?"')
    core = _core(settings)
    try:
        if args.jsonl:
            for line in sys.stdin:
                if not line.strip():
                    continue
                qid, question, as_of = _question_line(line)
                answer = core.answerer.ask(args.collection, question, article_id=args.article,
                                           as_of=as_of or args.as_of)
                out = answer.to_json()
                if qid is not None:
                    out = {"id": qid, **out}
                sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
                sys.stdout.flush()
            return 0
        answer = core.answerer.ask(args.collection, args.question, article_id=args.article,
                                   as_of=args.as_of)
    finally:
        core.close()
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
    else:
        print(render_answer(answer))
    return 0


def _question_line(line: str) -> tuple[object, str, date | None]:
    """(id, question, as-of day) of a line: plain text, or {"id", "question", "as_of"}."""
    text = line.strip()
    if text.startswith("{"):
        try:
            record = json.loads(text)
            as_of = record.get("as_of")
            return (record.get("id"), str(record.get("question", "")),
                    _day(as_of) if as_of else None)
        except (ValueError, AttributeError, TypeError, argparse.ArgumentTypeError):
            pass
    return None, text, None


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    core = _core(settings)
    try:
        articles = core.storage.list_articles(args.collection, limit=args.limit)
    finally:
        core.close()
    if args.json:
        print(json.dumps([a.__dict__ for a in articles], ensure_ascii=False, indent=2))
    elif not articles:
        print(f"No articles in collection {args.collection!r}. Add some with `citebot add`.")
    for a in articles if not args.json else []:
        meta = " · ".join(x for x in (a.source, a.published) if x)
        print(f"{a.id}  {a.title}" + (f"  ({meta})" if meta else "")
              + f"  [{a.paragraph_count} ¶]")
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    core = _core(settings)
    try:
        article = core.indexer.remove(args.collection, args.article_id)
    finally:
        core.close()
    print(f"removed: {article.id}  {article.title}")
    return 0


def cmd_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    core = _core(settings)
    try:
        total = len(core.storage.list_articles(args.collection, limit=-1))
        with progress(total, "rebuilding") as tick:
            count = core.indexer.rebuild(args.collection, lambda done, _: tick(1))
    finally:
        core.close()
    print(f"rebuilt {args.collection!r}: {total} articles, {count} vectors")
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    core = _core(settings)
    try:
        stats = core.storage.stats(args.collection)
    finally:
        core.close()
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            print(f"{key:>12}: {value}")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import run

    return run(settings)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.evaluate import run_cli

    return run_cli(args, settings)


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "add": cmd_add, "ask": cmd_ask, "list": cmd_list, "remove": cmd_remove,
    "rebuild": cmd_rebuild, "stats": cmd_stats, "run": cmd_run, "eval": cmd_eval,
}

if __name__ == "__main__":
    sys.exit(main())
