"""Embedding throughput of each encoder, one model call for all passages versus one call per
article, side by side in one run; and, for scale, what preparing the same articles costs
(cleaning, sentence segmentation, speakers, windows: everything before the model).

    .venv/bin/python benchmarks/encoders.py --eval-file ../shared/eval/realtimeqa_public.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import BUNDLED_MODEL  # noqa: E402
from index.encode.embed import load_embedder  # noqa: E402
from index.ingest.prepare import prepare  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval-file", type=Path,
                        default=ROOT.parent / "shared" / "eval" / "realtimeqa_public.jsonl")
    parser.add_argument("--passages", type=int, default=600)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.eval_file.read_text().splitlines()[:60]]
    texts = [r["doc_title"] + "\n\n" + p for r in rows for p in r["doc_text"].split("\n")
             if p.strip()][: args.passages]
    n = len(texts)
    with tempfile.TemporaryDirectory() as cache:
        for encoder in ("torch", "onnx", "onnx-int8"):
            e = load_embedder(BUNDLED_MODEL, encoder=encoder, cache_dir=Path(cache))
            e.embed(texts[:32])  # warm up
            t = time.perf_counter()
            e.embed(texts)
            one = n / (time.perf_counter() - t)
            t = time.perf_counter()
            for i in range(0, n, 30):
                e.embed(texts[i:i + 30])
            per_article = n / (time.perf_counter() - t)
            t = time.perf_counter()
            for r in rows[:20]:
                e.embed_query(r["question"])
            query_ms = (time.perf_counter() - t) / 20 * 1000
            print(f"{encoder:>9}: one call {one:6.1f} passages/s | per-article calls "
                  f"{per_article:6.1f}/s | one query {query_ms:5.1f} ms (mean)", flush=True)
        t, windows = time.process_time(), 0
        for r in rows:
            windows += len(prepare(title=r["doc_title"], text=r["doc_text"],
                                   count_tokens=e.count_tokens, max_tokens=e.max_tokens).chunks)
        cpu = time.process_time() - t
        print(f"  prepare: {windows} windows of {len(rows)} articles in {cpu:.2f} s of CPU "
              f"({cpu / windows * 1000:.2f} ms a window, {windows / cpu:.0f}/s on one core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
