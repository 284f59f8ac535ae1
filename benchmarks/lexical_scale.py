"""The lexical half of a question on its own, as a collection grows, two ways side by side:

- FTS5's own BM25 over every word of the question (an OR query ranked by ``bm25()``), which
  citebot used before: FTS5 visits every passage holding any of the words;
- citebot's lexical search: candidates from the question's rarer words only (bounded work),
  then every candidate, and as many more standing for the dense half's, scored with all the
  words.

The real paragraphs of an evaluation file are repeated to each size (so every posting list
grows with the collection, as in ``bench.py``); questions are the file's distinct questions.

    .venv/bin/python benchmarks/lexical_scale.py --eval-file ../shared/eval/realtimeqa_public.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.store.embedded.sqlite_store import SQLiteStore  # noqa: E402
from index.store.lexical import fts_name  # noqa: E402
from index.text import content_words  # noqa: E402

COLLECTION = "bench"


def grow(store: SQLiteStore, paras: list[tuple[str, str]], have: int, size: int) -> int:
    """Insert copies of the paragraphs (one article per copy) until ``size`` passages."""
    db = store.db()
    fts = store.fts_table(db, COLLECTION)
    copy = have // len(paras)
    while have < size:
        copy += 1
        with db:
            pk = db.execute(
                "INSERT INTO articles(id, collection, title, content_hash, paragraph_count, "
                "added_at) VALUES (?, ?, 'copy', ?, ?, '')",
                (f"copy-{copy}", COLLECTION, str(copy), len(paras))).lastrowid
            first = db.execute("SELECT coalesce(max(id), 0) + 1 FROM paragraphs").fetchone()[0]
            ids = range(first, first + len(paras))
            db.executemany("INSERT INTO paragraphs(id, article_pk, number, text) VALUES "
                           "(?, ?, ?, ?)", [(i, pk, n, p[0]) for n, (i, p) in
                                            enumerate(zip(ids, paras, strict=True), 1)])
            db.executemany(f"INSERT INTO {fts}(rowid, text, title) VALUES (?, ?, ?)",
                           [(i, p[0], p[1]) for i, p in zip(ids, paras, strict=True)])
        have += len(paras)
    return have


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval-file", type=Path,
                        default=ROOT.parent / "shared" / "eval" / "realtimeqa_public.jsonl")
    parser.add_argument("--base", type=int, default=1000, help="distinct paragraphs")
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--max-df", type=int, default=1000,
                        help="CITEBOT_LEXICAL_MAX_DF for citebot's search")
    parser.add_argument("--candidates", type=int, default=30,
                        help="CITEBOT_CANDIDATES: passages each half finds")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.eval_file.read_text().splitlines()]
    paras: list[tuple[str, str]] = []
    seen: set[str] = set()
    for r in rows:
        if r["doc_id"] not in seen and len(paras) < args.base:
            seen.add(r["doc_id"])
            paras += [(p, r["doc_title"]) for p in r["doc_text"].split("\n") if p.strip()]
    paras = paras[: args.base]
    questions = list(dict.fromkeys(r["question"] for r in rows))[: args.questions]
    rng = random.Random(0)
    print("passages | FTS5 bm25, all words: median ms | p99 | citebot lexical: median ms | p99 "
          "| ratio of medians")
    with tempfile.TemporaryDirectory(prefix="citebot-lexical-") as tmp:
        store = SQLiteStore(Path(tmp) / "bench.sqlite3", lexical_max_df=args.max_df)
        db = store.db()
        fts = fts_name(COLLECTION)
        have = 0
        for size in [int(s) for s in args.sizes.split(",")]:
            have = grow(store, paras, have, size)
            fts5, ours = [], []
            for q in questions:
                match = " OR ".join(f'"{t}"' for t in content_words(q))
                k = args.candidates
                dense = rng.sample(range(1, have + 1), k)  # what the dense half would add
                t = time.perf_counter()
                db.execute(f"SELECT rowid FROM {fts} WHERE {fts} MATCH ? ORDER BY "
                           f"bm25({fts}, 1.0, 0.25) LIMIT ?", (match, k)).fetchall()
                t1 = time.perf_counter()
                store.lexical_search(COLLECTION, q, k, also=dense)
                t2 = time.perf_counter()
                fts5.append((t1 - t) * 1000)
                ours.append((t2 - t1) * 1000)
            a, b = statistics.median(fts5), statistics.median(ours)
            p99 = [sorted(x)[max(int(len(x) * 0.99) - 1, 0)] for x in (fts5, ours)]
            print(f"{have} | {a:.1f} | {p99[0]:.1f} | {b:.1f} | {p99[1]:.1f} | {a / b:.1f}x",
                  flush=True)
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
