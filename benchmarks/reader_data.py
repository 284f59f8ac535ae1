"""Candidates for training and judging the reader: for each question of one side of the split,
the sentences of the passages retrieval ranks first, each labelled (does it hold the answer?).

    .venv/bin/python benchmarks/reader_data.py QUESTIONS.jsonl --data-dir DIR --out OUT.jsonl
        [--split tune|report] [--passages 8]

The articles are indexed into DIR (kept between runs; unchanged articles are skipped), each
question is asked as of its question_date through citebot's own retrieval and passage
ranking, and the sentences of the first ``--passages`` passages are written out with what the
reader needs (question, title, the sentence and its neighbours), the current sentence score
and the label. Only the tune side unless ``--split``: the report side is for judging, never
for training.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from retrieval.answer import DEPTH  # noqa: E402
from retrieval.core import Core  # noqa: E402
from retrieval.evaluation.evaluate import COLLECTION, index_articles, open_remembering  # noqa: E402
from retrieval.evaluation.scoring import articles_of, holds_answer, load_questions  # noqa: E402
from retrieval.evaluation.splits import article_sides  # noqa: E402
from retrieval.features import published_date, sentence_text  # noqa: E402
from retrieval.models import RankedPassage  # noqa: E402
from retrieval.question import analyse, clean_question  # noqa: E402
from retrieval.rank import SentenceRanker  # noqa: E402


def candidates(core: Core, collection: str, row: dict[str, Any], passages: int,
               ) -> list[dict[str, Any]]:
    """The sentences of the best ``passages`` passages for one question, labelled."""
    question = clean_question(row["question"])
    as_of = published_date(row.get("question_date"))
    info = analyse(question)
    query = core.embedder.embed_query(question)
    answerer = core.answerer
    found = answerer.searcher.search(collection, info, query, DEPTH, None, as_of)
    ranked = answerer.ranker.rerank(info, found, as_of or datetime.now(UTC).date())
    ranked = ranked[:passages]
    linear = {(id(r), i): s for s, r, i in SentenceRanker().score(info, ranked)}
    out = []
    for rank, r in enumerate(ranked):
        out.extend(_sentences(r, rank, row, linear))
    return out


def _sentences(r: RankedPassage, rank: int, row: dict[str, Any],
               linear: dict[tuple[int, int], float]) -> list[dict[str, Any]]:
    p = r.passage
    texts = [sentence_text(p, j) for j in range(len(p.sentences))]
    own = p.article.id == row["doc_id"]
    return [{
        "article": p.article.id, "paragraph": p.number, "sentence": i, "rank": rank,
        "title": p.article.title, "text": text,
        "before": texts[i - 1] if i else "", "after": texts[i + 1] if i + 1 < len(texts) else "",
        "speaker": p.sentences[i].speaker,
        "passage_score": r.score, "dense": r.dense, "lexical": r.lexical,
        "linear": linear.get((id(r), i), 0.0),
        "label": int(own and holds_answer(text, row["answers"])),
        "passage_label": int(own and holds_answer(p.text, row["answers"])),
    } for i, text in enumerate(texts)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--split", choices=("tune", "report"), default="tune")
    parser.add_argument("--passages", type=int, default=8)
    args = parser.parse_args()
    rows, _ = load_questions(args.file)
    sides, docs = article_sides(rows), articles_of(rows)
    core = open_remembering(Settings(data_dir=args.data_dir))
    n = 0
    try:
        if core.stats(COLLECTION).articles != len(docs):  # else: indexed before
            index_articles(core, COLLECTION, list(docs.values()), print)
        with open(args.out, "w", encoding="utf-8") as fh:
            for r in rows:
                if sides[r["doc_id"]] != args.split:
                    continue
                fh.write(json.dumps({
                    "set": args.file.stem, "id": r["id"], "question": r["question"],
                    "answers": r["answers"], "doc_id": r["doc_id"],
                    "question_date": r.get("question_date"),
                    "candidates": candidates(core, COLLECTION, r, args.passages)}) + "\n")
                n += 1
    finally:
        core.close()
    print(f"{n} questions of the {args.split} side written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
