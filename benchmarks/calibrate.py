"""How the "not found" threshold (``CITEBOT_MIN_SCORE``) separates answerable questions from
unanswerable ones: each set's questions asked of its own articles (answerable) and of the
other set's articles (unanswerable), as of today.

    .venv/bin/python benchmarks/calibrate.py ../shared/eval/realtimeqa_public.jsonl \\
        ../shared/eval/xquad_en.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from retrieval.core import Core  # noqa: E402
from retrieval.evaluation.evaluate import articles_of, load_questions  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", type=Path, nargs=2, help="two question sets")
    parser.add_argument("--per-set", type=int, default=300, help="questions drawn from each")
    parser.add_argument("--thresholds", default="0.30,0.35,0.40,0.45,0.50")
    parser.add_argument("--data-dir", type=Path, help="keep the two collections here")
    parser.add_argument("--collections", nargs=2, default=["a", "b"], metavar="NAME",
                        help="the two collections (one that holds articles is used as it is, "
                        "e.g. 'eval' as `citebot eval --data-dir` leaves it)")
    args = parser.parse_args()
    a, b = args.collections
    with tempfile.TemporaryDirectory(prefix="citebot-calibrate-") as tmp:
        settings = Settings(data_dir=args.data_dir or Path(tmp))
        core = Core.open(settings)
        try:
            questions = []
            for name, path in zip((a, b), args.files, strict=True):
                rows, _ = load_questions(path)
                if not core.articles(name, limit=1):
                    lines = [json.dumps({"id": d, "title": r.get("doc_title") or d,
                                         "text": r["doc_text"]})
                             for d, r in articles_of(rows).items()]
                    for _ in core.add_jsonl(name, lines):
                        pass
                questions.append(random.Random(0).sample([r["question"] for r in rows],
                                                         min(args.per_set, len(rows))))
            own = [core.ask(c, q).relevance
                   for c, qs in zip((a, b), questions, strict=True) for q in qs]
            other = [core.ask(c, q).relevance
                     for c, qs in zip((b, a), questions, strict=True) for q in qs]
        finally:
            core.close()
    print(f"threshold | answerable answered ({len(own)}) | unanswerable answered ({len(other)})")
    for t in (float(x) for x in args.thresholds.split(",")):
        print(f"{t:.2f} | {100 * sum(r >= t for r in own) / len(own):.1f}% | "
              f"{100 * sum(r >= t for r in other) / len(other):.1f}%"
              + ("  <- CITEBOT_MIN_SCORE" if abs(t - settings.min_score) < 1e-9 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
