"""`citebot chat`: one conversation in the terminal, the same as a thread on Discord.

Each line is a question; follow-ups are read in the light of the earlier ones (the core keeps
the conversation). On a terminal, earlier questions come back with the arrow keys (the
standard library's readline; the history is kept in the data directory) and Ctrl-C drops the
current line or answer; Ctrl-D (end of input) ends the conversation.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from bot.cli.context import Commands, Context
from bot.cli.empty import require_articles
from bot.cli.lines import GIVE_UP_BYTES, QUESTION_LINE_MAX, read_lines
from bot.cli.terminal import complain, say
from bot.render_text import render_answer
from index.errors import CitebotError
from index.indexer import BadLine
from retrieval.answer import MAX_QUESTION_CHARS

if TYPE_CHECKING:
    import argparse

    from retrieval.core import Core

HISTORY_FILE = "chat-history"
HISTORY_LINES = 1000
MAX_QUESTIONS = 100_000  # a bound on one session, far above any person's
LINE_MAX = QUESTION_LINE_MAX  # bytes of one piped line; a question is shorter still
PROMPT = "? "
INTRO = ("Ask a question about the articles in {collection!r}; follow-ups such as \"what else "
         "did he say?\" or \"and when was that?\" carry on from the answers before. "
         "Ctrl-D ends.")


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    chat = commands.add_parser(
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
    chat.set_defaults(handler=run_chat)


def run_chat(ctx: Context) -> int:
    """Answer questions from standard input until it ends; 0."""
    conversation = ctx.args.conversation or f"chat-{secrets.token_hex(8)}"
    interactive = sys.stdin.isatty()
    with ctx.core() as core, _history(ctx.settings.data_dir, interactive):
        require_articles(core, ctx.collection)
        if interactive:
            say(INTRO.format(collection=ctx.collection), sys.stderr)
        for question in _questions(interactive):
            if not interactive:  # a transcript: each answer under its question
                say(PROMPT + question)
            _answer(core, ctx, conversation, question)
    return 0


def _answer(core: Core, ctx: Context, conversation: str, question: str) -> None:
    if len(question) > MAX_QUESTION_CHARS:
        complain(f"That question is {len(question):,} characters; ask in at most "
                 f"{MAX_QUESTION_CHARS:,}.")
        return
    try:
        answer = core.ask(ctx.collection, question, article_id=ctx.args.article,
                          conversation=conversation, write=not ctx.args.no_llm)
    except KeyboardInterrupt:
        complain("interrupted")
        return
    except CitebotError as exc:
        complain(str(exc))
        return
    if answer.read_as:
        say(f"(read as: {answer.read_as})")
    say(render_answer(answer))
    say("")


def _questions(interactive: bool) -> Iterator[str]:
    """Each non-empty line of input, stripped, until end of input."""
    lines = _typed_lines() if interactive else _read_lines()
    for line in itertools.islice(lines, MAX_QUESTIONS):
        if line.strip():
            yield " ".join(line.split())


def _typed_lines() -> Iterator[str]:
    """Lines typed on a terminal (which bounds a line), with readline's editing."""
    while True:
        try:
            yield input(PROMPT)
        except EOFError:
            say("")
            return
        except KeyboardInterrupt:  # drops the line being typed, as a shell does
            say("")
            yield ""


def _read_lines() -> Iterator[str]:
    """Lines of piped input, read in bounded pieces: a line over the limit or not UTF-8 is
    skipped and reported in one sentence; endless input without a line break is given up on."""
    try:
        for number, line in enumerate(read_lines(sys.stdin.buffer, max_bytes=LINE_MAX), 1):
            if isinstance(line, BadLine):
                complain(f"skipped line {number}: {line.reason}; ask one question a line, in "
                         f"at most {MAX_QUESTION_CHARS:,} characters.")
                yield ""
            else:
                yield line
    except CitebotError:  # no line break for far longer than any line
        raise CitebotError(f"The input has no line break in {GIVE_UP_BYTES >> 20} MiB; chat "
                           "reads one question a line. Stopped reading; the questions before "
                           "were answered.") from None


@contextlib.contextmanager
def _history(data_dir: Path, interactive: bool) -> Iterator[None]:
    """Readline with the saved history on a terminal (nothing otherwise); the history is
    saved again at the end (written aside and moved into place)."""
    readline = _readline() if interactive else None
    if readline is None:
        yield
        return
    path = data_dir / HISTORY_FILE
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(HISTORY_LINES)
    try:
        yield
    finally:
        temporary = path.with_name(path.name + ".tmp")
        try:
            readline.write_history_file(temporary)
            os.replace(temporary, path)
        except OSError as exc:
            complain(f"could not save the question history: {exc.strerror or exc}")


def _readline() -> ModuleType | None:
    try:
        import readline
    except ImportError:  # not on every platform; the chat works without it
        return None
    return readline
