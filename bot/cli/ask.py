"""`citebot ask`: one question, or a question a line (``--jsonl``), answered with verbatim
quotes, as text or JSON."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import TYPE_CHECKING

from bot.cli.context import Commands, Context
from bot.cli.empty import require_articles
from bot.cli.lines import QUESTION_LINE_MAX, parse_question, read_lines
from bot.cli.terminal import say, to_json
from index.errors import CitebotError
from index.indexer import BadLine
from retrieval.answer import MAX_QUESTION_CHARS
from retrieval.models import Writing

if TYPE_CHECKING:
    from retrieval.core import Core


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    ask = commands.add_parser("ask", parents=[common], help="ask a question",
                              description="Answer a question with verbatim quotes and "
                              "citations.")
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
    ask.set_defaults(handler=cmd_ask)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day like 2024-05-31") from None


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
