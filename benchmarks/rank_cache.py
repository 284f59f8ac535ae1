"""Cache what retrieval finds for each question of one side of the split, so that ranking and
"not found" rules can be compared offline (``benchmarks/tune_ranking.py``) without asking
the collection again.

    .venv/bin/python benchmarks/rank_cache.py QUESTIONS.jsonl --data-dir DIR --out CACHE.pkl

The articles are indexed into DIR (kept between runs; unchanged articles are skipped), each
question is asked of the collection of every article (answerable) and of the collection of
the other side's articles (unanswerable), as of its question_date; the first 40 passages
with their scores, and the query vector, are kept. Only the tune side unless ``--split``.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from retrieval.core import Core  # noqa: E402
from retrieval.evaluation.evaluate import COLLECTION, index_articles, open_remembering  # noqa: E402
from retrieval.evaluation.scoring import articles_of, load_questions  # noqa: E402
from retrieval.evaluation.splits import article_sides  # noqa: E402
from retrieval.features import published_date  # noqa: E402
from retrieval.question import analyse  # noqa: E402

DEPTH = 40


def candidates(core: Core, collection: str, question: str, as_of: Any) -> dict[str, Any]:
    """The query vector and the first DEPTH passages of one question, as plain values."""
    info = analyse(question)
    query = core.embedder.embed_query(question)
    ranked = core.answerer.searcher.search(collection, info, query, DEPTH, None, as_of)
    return {"query": query, "ranked": ranked}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--split", choices=("tune", "report"), default="tune")
    args = parser.parse_args()
    rows, _ = load_questions(args.file)
    sides, docs = article_sides(rows), articles_of(rows)
    core = open_remembering(Settings(data_dir=args.data_dir))
    out = []
    try:
        other = f"{COLLECTION}-without-{args.split}"
        for collection, wanted in ((COLLECTION, list(docs.values())),
                                   (other, [docs[d] for d, s in sides.items() if s != args.split])):
            if core.stats(collection).articles != len(wanted):  # else: indexed before
                index_articles(core, collection, wanted, print)
        for r in rows:
            if sides[r["doc_id"]] != args.split:
                continue
            as_of = published_date(r.get("question_date"))
            out.append({"row": {k: r[k] for k in ("id", "question", "answers", "doc_id")},
                        "as_of": as_of, "own": candidates(core, COLLECTION, r["question"], as_of),
                        "other": candidates(core, other, r["question"], as_of)})
    finally:
        core.close()
    args.out.write_bytes(pickle.dumps(out))
    print(f"{len(out)} questions cached in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
