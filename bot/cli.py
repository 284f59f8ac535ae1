"""The command-line tool: ``citebot add | ask | chat | list | remove | rebuild | stats | feeds |
insights | run | eval | db | backup | restore``.

It only parses arguments, calls the core and renders; core errors become one clear line on
stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError
from pydantic_settings import SettingsError

from bot.cli_backup import add_parser as add_backup_parser
from bot.cli_backup import cmd_backup, cmd_restore
from bot.cli_collections import no_articles, require_articles
from bot.cli_db import add_parser as add_db_parser
from bot.cli_feeds import add_parser as add_feeds_parser
from bot.cli_insights import add_parser as add_insights_parser
from bot.lines import QUESTION_LINE_MAX, parse_question, read_lines
from bot.logs import TEXT_FORMAT, use_format
from bot.terminal import complain, for_operator, progress, say, to_json
from config.settings import Settings
from index.encode.embed import Embedder
from index.errors import CitebotError
from index.indexer import BadLine
from index.names import check_collection
from retrieval.answer import MAX_QUESTION_CHARS
from retrieval.models import Writing

if TYPE_CHECKING:
    from retrieval.core import Core

log = logging.getLogger("citebot")

EPILOG = """environment: every setting can be given as CITEBOT_<NAME> (for example CITEBOT_DATA_DIR,
CITEBOT_MODEL, CITEBOT_DISCORD_TOKEN, CITEBOT_DATABASE_URL; CITEBOT_LLM_BASE_URL and
CITEBOT_LLM_MODEL for answers written by a language model, docs/LLM.md) or in a .env file; see
the README. A list setting is comma-separated or JSON (CITEBOT_FETCH_ALLOW_PORTS=80,443,8080)."""


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day like 2024-05-31") from None


def _version() -> str:
    """The installed package's version (its metadata), or "unknown" when run from a checkout."""
    try:
        return importlib.metadata.version("citebot")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citebot", epilog=EPILOG,
        description="Answer questions about news articles with verbatim, cited quotes.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    parser.add_argument("--version", action="version", version=f"citebot {_version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--collection", default="default",
                        help="collection to use (default: %(default)s); a name is up to 64 "
                        "bytes of letters, digits, spaces, '-', '_' and '.'")
    common.add_argument("--data-dir", type=Path,
                        help="data directory (default: $CITEBOT_DATA_DIR or ./citebot-data)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add = sub.add_parser("add", parents=[common], help="add articles (URLs, files, text, JSONL)",
                         description="Add articles: URLs are fetched, .html files extracted, "
                         ".txt/.md files take their first line as the title. Adding the same "
                         "article again updates it in place. A source that fails is reported "
                         "and the others are still added (exit 1 if any failed).")
    add.add_argument("sources", nargs="*", metavar="URL|FILE|FOLDER",
                     help="http(s) URLs or files; a folder adds the article files directly "
                     "inside it, by name (not its subfolders); '-' reads text from standard "
                     "input")
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
                     '{"id": ..., "question": ..., "as_of": "YYYY-MM-DD", "conversation": ...}; '
                     "lines with the same conversation are follow-ups of each other), write "
                     "one JSON answer per line")
    ask.add_argument("--article", metavar="ID", help="only search this article")
    ask.add_argument("--as-of", type=_day, metavar="YYYY-MM-DD",
                     help="answer as on that day: articles published later are left out "
                     "(undated ones are kept)")
    ask.add_argument("--no-llm", action="store_true",
                     help="answer with quotes only, even when a language model is configured "
                     "(CITEBOT_LLM_BASE_URL and CITEBOT_LLM_MODEL, docs/LLM.md)")

    chat = sub.add_parser(
        "chat", parents=[common], help="a conversation in the terminal (follow-up questions)",
        description="Ask questions one after another; follow-ups (\"what else did he say?\", "
        "\"and Kim?\", \"when was that?\") are read in the light of the earlier ones. "
        "Ctrl-D ends; earlier questions are recalled with the arrow keys.")
    chat.add_argument("--article", metavar="ID", help="only search this article")
    chat.add_argument("--conversation", metavar="NAME",
                      help="continue (or start) the conversation with this name, which is "
                      "kept until it has been idle for CITEBOT_CONVERSATION_IDLE_MINUTES")
    chat.add_argument("--no-llm", action="store_true",
                      help="answer with quotes only, even when a language model is configured "
                      "(docs/LLM.md)")

    lst = sub.add_parser("list", parents=[common], help="list articles, newest first")
    lst.add_argument("--limit", type=int, default=100)
    lst.add_argument("--json", action="store_true")

    rm = sub.add_parser("remove", parents=[common], help="remove an article")
    rm.add_argument("article_id", metavar="ARTICLE_ID")

    sub.add_parser("rebuild", parents=[common],
                   help="re-embed every article into a new index (e.g. after changing model)")
    st = sub.add_parser("stats", parents=[common], help="counts and index details")
    st.add_argument("--json", action="store_true")

    add_feeds_parser(sub, common)
    add_insights_parser(sub, common)
    sub.add_parser("run", parents=[common], help="run the Discord bot (and poll feeds)",
                   description="Run the Discord bot (token from CITEBOT_DISCORD_TOKEN); it "
                   "polls every collection's feeds in the background. Several processes share "
                   "one bot with CITEBOT_SHARD_COUNT and CITEBOT_SHARD_IDS: each serves its "
                   "shards' servers and polls their feeds (docs/SCALING.md). With "
                   "CITEBOT_METRICS_ADDRESS it serves /healthz and Prometheus /metrics "
                   "(docs/OPERATING.md).")

    ev = sub.add_parser("eval", parents=[common],
                        help="measure answer quality on a question file, with baselines",
                        description="Measure answer quality on a question file (with "
                        "baselines), or on a file of follow-up chains (per turn, with and "
                        "without context; docs/CONVERSATIONS.md).")
    ev.add_argument("file", type=Path, help="question set or chains file (JSON Lines, see "
                    "docs/EVALUATION.md and docs/CONVERSATIONS.md)")
    ev.add_argument("--output", type=Path, help="write the results as JSON here")
    ev.add_argument("--limit", type=int, help="only the first N questions")
    ev.add_argument("--no-baselines", action="store_true", help="score citebot only")
    ev.add_argument("--ignore-dates", action="store_true",
                    help="ask every question as of today instead of on its question_date")
    ev.add_argument("--split", choices=("tune", "report", "all"), default="all",
                    help="the side of the fixed split to ask (default: both, side by side)")
    ev.add_argument("--no-unanswerable", action="store_true",
                    help="skip asking each side's questions of the other side's articles")
    add_db_parser(sub)
    add_backup_parser(sub)
    _verbose_everywhere(parser)
    return parser


VERBOSE_HELP = ("more logging (-v info, -vv debug); with ask, -v also prints the language "
                "model's unchecked text on stderr")


def _verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """-v after any command too (`citebot run -v`), counted with the one before it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # once per parser
                sub.add_argument("-v", "--verbose", action="count", dest="verbose_after",
                                 default=argparse.SUPPRESS, help=VERBOSE_HELP)
                _verbose_everywhere(sub)


@dataclass(frozen=True)
class Context:
    """What a command gets: its arguments, the settings, and how to open the core."""

    args: argparse.Namespace
    settings: Settings
    embedder: Embedder | None = None  # given by tests, so the model loads once per session

    @property
    def collection(self) -> str:
        return str(self.args.collection)

    def core(self, settings: Settings | None = None) -> Core:
        """The core over these settings (or others, e.g. a scratch data directory)."""
        from retrieval.core import Core

        return Core.open(settings or self.settings, embedder=self.embedder)


def main(argv: list[str] | None = None, *, embedder: Embedder | None = None) -> int:
    args = build_parser().parse_args(argv)
    _log_at(args.verbose + getattr(args, "verbose_after", 0))
    try:
        code = _run(args, embedder)
        sys.stdout.flush()  # here, so that a reader gone is seen here (not at exit)
    except BrokenPipeError:  # `citebot stats | head -3`: the reader has all it wanted
        _drop_stdout()
        return READER_GONE
    return code


READER_GONE = 141  # the exit code of a process ended by SIGPIPE, as the shell reports it


def _run(args: argparse.Namespace, embedder: Embedder | None) -> int:
    try:
        data_dir = getattr(args, "data_dir", None)  # `db` works on the database, not a directory
        settings = Settings(**({"data_dir": data_dir} if data_dir else {}))
    except (ValidationError, SettingsError) as exc:
        complain(Settings.describe(exc))
        return 2
    except UnicodeDecodeError as exc:  # only .env is read as bytes
        complain(f"The .env file here is not UTF-8 text (byte {exc.start + 1}); save it as "
                 "UTF-8.")
        return 2
    except OSError as exc:
        complain(f"Cannot read the .env file here: {exc.strerror or exc}.")
        return 2
    use_format(settings.log_format)
    try:
        if hasattr(args, "collection"):
            check_collection(args.collection)
    except CitebotError as exc:
        complain(str(exc))
        return 2
    try:
        return COMMANDS[args.command](Context(args, settings, embedder))
    except CitebotError as exc:
        complain(for_operator(exc))
        return 1
    except KeyboardInterrupt:
        complain("interrupted")
        return 130


def _log_at(verbosity: int) -> None:
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbosity, 2)]
    logging.basicConfig(level=level, format=TEXT_FORMAT)
    # which CPU build of faiss loads ("Could not load library with AVX512 support"): noise
    # but when debugging
    logging.getLogger("faiss").setLevel(logging.WARNING if level > logging.DEBUG else 0)


def _drop_stdout() -> None:
    """Point standard output at /dev/null, so that flushing it at exit cannot fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def cmd_add(ctx: Context) -> int:
    from bot.cli_add import run_add

    return run_add(ctx)


def cmd_ask(ctx: Context) -> int:
    from bot.render_text import render_answer

    args = ctx.args
    if args.jsonl:
        return _ask_jsonl(ctx)
    question = (args.question or "").strip()
    if not question:
        raise CitebotError('Ask a question: citebot ask "what did ... say about ...?"')
    if len(question) > MAX_QUESTION_CHARS:
        raise CitebotError(f"The question is {len(question):,} characters; ask in at most "
                           f"{MAX_QUESTION_CHARS:,}.")
    with ctx.core() as core:
        require_articles(core, ctx.collection)
        answer = core.ask(ctx.collection, question, article_id=args.article, as_of=args.as_of,
                          write=not args.no_llm)
    if args.verbose and answer.writing is not None:  # for the operator, on stderr only
        _show_raw(answer.writing)
    if args.json:
        print(to_json(answer.to_json(), indent=2))
    else:
        say(render_answer(answer))
    return 0


def _show_raw(writing: Writing) -> None:
    """What the model wrote, unchecked, and what became of it (``ask -v``)."""
    why = f" ({writing.reason})" if writing.reason else ""
    say(f"The model's answer: {writing.outcome}{why}. It wrote, unchecked:", file=sys.stderr)
    say(writing.raw.strip() or "(nothing)", file=sys.stderr)


def _ask_jsonl(ctx: Context) -> int:
    """One JSON answer per question line; a bad line gets a JSON error line, never a stop."""
    failures = 0
    with ctx.core() as core:
        require_articles(core, ctx.collection)
        lines = read_lines(sys.stdin.buffer, max_bytes=QUESTION_LINE_MAX)
        for number, line in enumerate(lines, 1):
            if isinstance(line, str) and not line.strip():
                continue
            out, ok = _answer_line(core, ctx, line)
            if not ok:
                failures += 1
                out = {**out, "line": number}
            sys.stdout.write(to_json(out) + "\n")
            sys.stdout.flush()
    return 1 if failures else 0


def _answer_line(core: Core, ctx: Context,
                 line: str | BadLine) -> tuple[dict[str, object], bool]:
    """(the JSON answer or error for one line, whether it was answered)."""
    qid: object = None
    try:
        question = parse_question(line)
        qid = question.id
        answer = core.ask(ctx.collection, question.text, article_id=ctx.args.article,
                          as_of=question.as_of or ctx.args.as_of,
                          conversation=question.conversation, write=not ctx.args.no_llm)
    except (ValueError, CitebotError) as exc:
        qid = getattr(exc, "id", qid)
        return {**({"id": qid} if qid is not None else {}), "error": str(exc)}, False
    thread = {"conversation": question.conversation} if question.conversation else {}
    return {**({"id": qid} if qid is not None else {}), **thread, **answer.to_json()}, True


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
        stats = core.stats(ctx.collection).to_json()
        empty = None if stats["articles"] else no_articles(core, ctx.collection)
    if empty:
        complain(empty)
    if ctx.args.json:
        print(to_json(stats, indent=2))
    else:
        for key, value in stats.items():
            say(f"{key:>12}: {value}")
    return 0


def cmd_run(ctx: Context) -> int:
    from bot.app import run

    return run(ctx.settings)


def cmd_feeds(ctx: Context) -> int:
    from bot.cli_feeds import cmd_feeds as run_feeds

    return run_feeds(ctx)


def cmd_insights(ctx: Context) -> int:
    from bot.cli_insights import cmd_insights as run_insights

    return run_insights(ctx)


def cmd_chat(ctx: Context) -> int:
    from bot.cli_chat import run_chat

    return run_chat(ctx)


def cmd_eval(ctx: Context) -> int:
    from bot.cli_eval import run_eval

    return run_eval(ctx)


def cmd_db(ctx: Context) -> int:
    from bot.cli_db import cmd_db as run_db

    return run_db(ctx)


COMMANDS: dict[str, Callable[[Context], int]] = {
    "add": cmd_add, "ask": cmd_ask, "list": cmd_list, "remove": cmd_remove,
    "rebuild": cmd_rebuild, "stats": cmd_stats, "feeds": cmd_feeds, "run": cmd_run,
    "eval": cmd_eval, "chat": cmd_chat, "db": cmd_db, "backup": cmd_backup,
    "restore": cmd_restore, "insights": cmd_insights,
}

if __name__ == "__main__":
    sys.exit(main())
