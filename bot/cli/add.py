"""`citebot add`: URLs, files, folders, pasted text, standard input and JSON Lines.

Each source is added on its own: one that fails is reported in one line and the others are
still added; the exit code says whether any failed.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from bot.cli.context import Commands, Context
from bot.cli.lines import read_lines
from bot.cli.terminal import complain, for_operator, progress, say
from index.errors import ArticleError, CitebotError, TooLargeError
from index.indexer import AddResult
from index.ingest.fetch import url_scheme
from index.ingest.files import FILE_KINDS
from index.ingest.records import check_field

if TYPE_CHECKING:
    import argparse

    from retrieval.core import Core


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    add = commands.add_parser(
        "add", parents=[common], help="add articles (URLs, files, text, JSONL)",
        description="Add articles: URLs are fetched, .html files extracted, .txt/.md files take "
        "their first line as the title. Adding the same article again updates it in place. A "
        "source that fails is reported and the others are still added (exit 1 if any failed).")
    add.add_argument("sources", nargs="*", metavar="URL|FILE|FOLDER",
                     help="http(s) URLs or files; a folder adds the article files directly "
                     "inside it, by name (not its subfolders); '-' reads text from standard "
                     "input")
    add.add_argument("--title", help="title for a text source (instead of its first line)")
    add.add_argument("--text", help="the article's text, pasted (needs --title)")
    add.add_argument("--jsonl", type=Path, metavar="FILE",
                     help='bulk add: one {"title", "text", "url"?, "id"?, "published"?, '
                     '"source"?} per line ("-" for standard input)')
    add.set_defaults(handler=run_add)


def run_add(ctx: Context) -> int:
    """`citebot add`: each source in turn (a failed one is reported and the rest go on)."""
    args = ctx.args
    if not (args.sources or args.jsonl or args.text):
        raise CitebotError("Nothing to add: give URLs or files, --text with --title, or --jsonl.")
    if args.text is not None and not args.title:
        raise CitebotError("Pasted text needs a title: add --title.")
    if args.title is not None:
        _checked(check_field, "title", args.title)
    failures = 0
    with ctx.core() as core:
        if args.text is not None:
            _report(core.add_text(ctx.collection, title=args.title, text=args.text))
        for source in args.sources:
            try:
                files = _folder_files(ctx, source)
            except CitebotError as exc:
                failures += 1
                complain(f"{source}: {exc}")
                continue
            failures += sum(_add_reported(core, ctx, name) for name in files or [source])
        if args.jsonl:
            failures += _add_jsonl(core, ctx)
    return 1 if failures else 0


def _checked(check: Callable[[str, str], None], name: str, value: str) -> None:
    try:
        check(name, value)
    except ValueError as exc:
        raise CitebotError(f"--{name}: {exc}") from None


def _add_reported(core: Core, ctx: Context, source: str) -> int:
    """Add one source and report it: 0, or 1 if it failed (reported, the rest go on)."""
    try:
        _report(_add_one(core, ctx, source))
    except CitebotError as exc:
        complain(f"{source}: {for_operator(exc)}")
        return 1
    return 0


def _folder_files(ctx: Context, source: str) -> list[str] | None:
    """The article files directly inside a folder, by name (None if ``source`` is not a
    folder). Subfolders are not entered: a folder is one batch, as listed."""
    path = Path(source)
    if source == "-" or url_scheme(source) is not None or not path.is_dir():
        return None
    kinds = ", ".join(sorted(FILE_KINDS))
    if ctx.args.title is not None:
        raise CitebotError("is a folder of articles, and --title names one article; add its "
                           "files one by one to give each a title.")
    try:
        entries = sorted(path.iterdir())
    except OSError as exc:
        raise CitebotError(f"Cannot read the folder: {exc.strerror or exc}") from None
    files = [str(p) for p in entries if p.suffix.lower() in FILE_KINDS
             and not p.name.startswith(".") and p.is_file()]
    if not files:
        raise CitebotError(f"is a folder with no article files directly inside it ({kinds}); "
                           "citebot does not look in its subfolders.")
    skipped = len(entries) - len(files)
    if skipped:
        complain(f"{source}: {skipped} {'entry' if skipped == 1 else 'entries'} skipped: "
                 f"only the {kinds} files directly inside a folder are added, not its "
                 "subfolders or other files.")
    return files


def _add_one(core: Core, ctx: Context, source: str) -> AddResult:
    title = ctx.args.title
    scheme = url_scheme(source)
    if scheme in ("http", "https"):
        return core.add_url(ctx.collection, source, title=title)
    if scheme is not None:
        raise ArticleError(f"citebot fetches http:// and https:// addresses, not {scheme}://; "
                           "give a file on this machine by its path.")
    if source == "-":
        limit = ctx.settings.max_article_bytes
        data = sys.stdin.buffer.read(limit + 1)
        if len(data) > limit:
            raise TooLargeError(f"Standard input is over the limit of {limit:,} bytes; split "
                                "it or raise CITEBOT_MAX_ARTICLE_BYTES.")
        return core.add_document(ctx.collection, "standard input", data, title=title)
    return core.add_file(ctx.collection, Path(source), title=title)


def _add_jsonl(core: Core, ctx: Context) -> int:
    failures = 0
    tally = {"added": 0, "updated": 0, "unchanged": 0}
    with _binary_input(ctx.args.jsonl) as fh, progress(None, "adding") as tick:
        # a line holds one article's text, JSON-escaped (non-ASCII may double in size)
        lines = read_lines(fh, max_bytes=2 * ctx.settings.max_article_bytes + 65_536)
        for item in core.add_jsonl(ctx.collection, lines):
            tick(1)
            if item.result is None:
                failures += 1
                complain(f"{ctx.args.jsonl}:{item.line}: {item.error}")
            else:
                tally[item.result.status] += 1
    say(f"{tally['added']} added, {tally['updated']} updated, {tally['unchanged']} unchanged, "
        f"{failures} failed")
    return failures


def _report(result: AddResult) -> None:
    a = result.article
    where = ", ".join(x for x in (a.source, a.published) if x)
    say(f"{result.status}: {a.id}  {a.title}" + (f" ({where})" if where else "")
        + f", {a.paragraph_count} paragraphs")


@contextmanager
def _binary_input(path: Path) -> Iterator[BinaryIO]:
    """Standard input for "-", else a regular file (a FIFO or a device is refused)."""
    if str(path) == "-":
        yield sys.stdin.buffer
        return
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise CitebotError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)  # open() would refuse a folder with a bare IsADirectoryError
        what = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise CitebotError(f"{path} is {what}; give a file, or '-' for standard input.")
    with open(fd, "rb") as fh:
        os.set_blocking(fd, True)
        yield fh
