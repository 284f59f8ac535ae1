"""Splitting text into words as FTS5 does, three ways side by side, on an evaluation file's
paragraphs (as the re-scoring reads them: lower case, accents removed):

- Python's word class ``[^\\W_]+`` (what citebot used before: wrong where Python's Unicode
  and FTS5's disagree);
- the pattern of FTS5's 411 word-character ranges alone (right, slower);
- ``index.store.fts5_chars.tokens``: Python's class for a text whose every character both
  read alike, else the ranges (right).

Also how many paragraphs need the ranges. Processor time, medians of five rounds.

    .venv/bin/python benchmarks/fts5_split.py --eval-file ../shared/eval/realtimeqa_public.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.store.fts5_chars import WORD_CHAR, python_agrees, tokens  # noqa: E402
from index.text import plain  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval-file", type=Path,
                        default=ROOT.parent / "shared" / "eval" / "realtimeqa_public.jsonl")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not args.eval_file.exists():
        parser.error(f"{args.eval_file} not found: give --eval-file")
    texts: dict[str, None] = {}
    for line in args.eval_file.read_text(encoding="utf-8").splitlines():
        for paragraph in json.loads(line)["doc_text"].split("\n"):
            if paragraph.strip():
                texts.setdefault(plain(paragraph), None)
    paragraphs = list(texts)
    ways: dict[str, Callable[[str], list[str]]] = {
        "Python's word class": re.compile(r"[^\W_]+").findall,
        "FTS5's ranges alone": re.compile(WORD_CHAR + "+").findall,
        "fts5_chars.tokens": tokens,
    }
    tokens(paragraphs[0])  # the agreeing characters' pattern is made once, outside the timing
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, split in ways.items():
            start = time.process_time()
            for text in paragraphs:
                split(text)
            times[name].append(time.process_time() - start)
    base = statistics.median(times["Python's word class"])
    print(f"{len(paragraphs):,} distinct paragraphs of {args.eval_file.name}; "
          f"{sum(not python_agrees(t) for t in paragraphs):,} need FTS5's ranges")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"  {name:22} {median * 1000:8.1f} ms  {median / base:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
