"""How long citebot's BM25 query (SQLite FTS5, OR of the question's words) takes as a corpus
grows, on its own: the real paragraphs of an evaluation file repeated to each size.

    .venv/bin/python benchmarks/lexical_scale.py --eval-file ../shared/eval/realtimeqa_public.jsonl
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.sqlite_store import query_terms  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval-file", type=Path,
                        default=ROOT.parent / "shared" / "eval" / "realtimeqa_public.jsonl")
    parser.add_argument("--base", type=int, default=1000, help="distinct paragraphs")
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.eval_file.read_text().splitlines()]
    paras: list[tuple[str, str]] = []
    seen: set[str] = set()
    for r in rows:
        if r["doc_id"] not in seen and len(paras) < args.base:
            seen.add(r["doc_id"])
            paras += [(p, r["doc_title"]) for p in r["doc_text"].split("\n") if p.strip()]
    paras = paras[: args.base]
    questions = [r["question"] for r in rows[:100]]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE f USING fts5(text, title, "
               "tokenize='porter unicode61 remove_diacritics 2')")
    have = 0
    print("passages | BM25 query ms (median) | p99")
    for size in [int(s) for s in args.sizes.split(",")]:
        while have < size:
            db.executemany("INSERT INTO f(text, title) VALUES (?, ?)", paras)
            have += len(paras)
        times = []
        for q in questions:
            match = " OR ".join(f'"{t}"' for t in query_terms(q))
            t = time.perf_counter()
            db.execute("SELECT rowid, bm25(f, 1.0, 0.25) AS s FROM f WHERE f MATCH ? "
                       "ORDER BY s LIMIT 50", (match,)).fetchall()
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        print(f"{have} | {statistics.median(times):.1f} | {times[int(len(times) * 0.99) - 1]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
