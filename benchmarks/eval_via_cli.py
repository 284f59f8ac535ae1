"""Score answer quality through the command-line tool itself, as a user would run it:

    citebot add --jsonl articles.jsonl          (every distinct article of the question file)
    citebot ask --jsonl < questions.jsonl       (one JSON answer per line)

then hit@1 / hit@5 of quotes and passages with the scoring of ``citebot eval``.

    .venv/bin/python benchmarks/eval_via_cli.py ../shared/eval/realtimeqa_public.jsonl
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.evaluation.evaluate import Score, articles_of, load_questions  # noqa: E402
from retrieval.features import published_date  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path)
    args = parser.parse_args()
    rows, skipped = load_questions(args.file)
    docs = articles_of(rows)
    citebot = [sys.executable, "-m", "bot.cli"]
    with tempfile.TemporaryDirectory(prefix="citebot-cli-eval-") as tmp:
        data = ["--data-dir", str(Path(tmp) / "data")]
        articles = Path(tmp) / "articles.jsonl"
        articles.write_text("".join(json.dumps({
            "id": d, "title": r.get("doc_title") or d, "text": r["doc_text"],
            "url": r.get("doc_url"), "published": r.get("doc_publish_date")}) + "\n"
            for d, r in docs.items()), encoding="utf-8")
        subprocess.run([*citebot, "add", *data, "--jsonl", str(articles)], cwd=ROOT, check=True)
        questions = "".join(json.dumps({"id": r["id"], "question": r["question"],
                                        "as_of": str(published_date(r.get("question_date"))
                                                     or "")}) + "\n" for r in rows)
        out = subprocess.run([*citebot, "ask", *data, "--jsonl"], cwd=ROOT, check=True,
                             input=questions, capture_output=True, text=True).stdout
    answers = {a["id"]: a for a in map(json.loads, out.splitlines())}
    quotes, passages = Score("quotes"), Score("passages")
    for r in rows:
        a = answers[r["id"]]
        quotes.add([(q["article_id"], q["text"]) for q in a["quotes"]], r["doc_id"],
                   r["answers"])
        passages.add([(p["article_id"], p["text"]) for p in a["passages"]], r["doc_id"],
                     r["answers"])
    print(f"{args.file.name}: {len(rows)} questions ({skipped} left out: answer not verbatim), "
          f"{len(docs)} articles, via `citebot add --jsonl` and `citebot ask --jsonl`")
    for s in (quotes, passages):
        row = s.row()
        print(f"  {s.name:>8}: hit@1 {row['hit@1']}  hit@5 {row['hit@5']}  mrr {row['mrr']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
