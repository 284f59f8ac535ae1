"""``citebot eval``: answer quality on a question set, side by side with two baselines.

The question file follows the evaluation schema (id, question, answers, doc_id, doc_title,
doc_text, ...). Every distinct article is indexed into a fresh collection; a hit at k is a unit
(quote or passage) among the first k that comes from ``doc_id`` and contains a normalised
answer. Questions whose answer is not verbatim in the article (``answer_in_doc`` false) are
left out and counted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from config.settings import Settings
from index.errors import CitebotError
from index.text import answer_form
from retrieval.core import Core

COLLECTION = "eval"
Unit = tuple[str, str]  # (article id, text)


@dataclass
class Score:
    """Hit@1, hit@5 and MRR of one method over the questions."""

    name: str
    hits1: int = 0
    hits5: int = 0
    rr: float = 0.0
    article1: int = 0
    n: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, units: Sequence[Unit], doc_id: str, answers: list[str],
            latency: float | None = None) -> None:
        self.n += 1
        keys = [answer_form(a) for a in answers if answer_form(a)]
        for rank, (aid, text) in enumerate(units[:10], 1):
            if aid == doc_id and any(k in answer_form(text) for k in keys):
                self.hits1 += rank == 1
                self.hits5 += rank <= 5
                self.rr += 1 / rank
                break
        self.article1 += bool(units) and units[0][0] == doc_id
        if latency is not None:
            self.latencies.append(latency)

    def row(self) -> dict[str, object]:
        n = max(self.n, 1)
        out: dict[str, object] = {
            "method": self.name, "questions": self.n, "hit@1": round(self.hits1 / n, 3),
            "hit@5": round(self.hits5 / n, 3), "mrr": round(self.rr / n, 3),
            "right_article@1": round(self.article1 / n, 3)}
        if self.latencies:
            lat = np.array(self.latencies) * 1000
            out["latency_ms_median"] = round(float(np.median(lat)), 1)
            out["latency_ms_p95"] = round(float(np.percentile(lat, 95)), 1)
        return out


def load_questions(path: Path) -> tuple[list[dict], int]:  # type: ignore[type-arg]
    """The questions to score and how many were left out (answer not verbatim)."""
    rows, skipped = [], 0
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    if row.get("answer_in_doc") is False:
                        skipped += 1
                    else:
                        rows.append(row)
    except (OSError, ValueError) as exc:
        raise CitebotError(f"Cannot read the question file {path}: {exc}") from exc
    return rows, skipped


def articles_of(rows: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    docs: dict[str, dict] = {}  # type: ignore[type-arg]
    for r in rows:
        docs.setdefault(r["doc_id"], r)
    return docs


def evaluate(path: Path, settings: Settings, *, limit: int | None = None,
             baselines: bool = True, dates: bool = True,
             log: Callable[[str], None] = lambda message: None,
             open_core: Callable[[Settings], Core] = Core.open) -> dict[str, object]:
    """Index the file's articles into a fresh collection, ask every question, score.

    With ``dates``, a question that has a ``question_date`` is asked as of that day, as a
    member would have asked it then: articles published later are left out and recent ones
    preferred. The baselines never read dates.
    """
    from retrieval.search import published_date

    rows, skipped = load_questions(path)
    docs = articles_of(rows)
    rows = rows[:limit] if limit else rows
    core = open_core(settings)
    try:
        t0 = time.perf_counter()
        lines = [json.dumps({"id": doc_id, "title": r.get("doc_title") or doc_id,
                             "text": r["doc_text"], "url": r.get("doc_url"),
                             "published": r.get("doc_publish_date")}) for doc_id, r in docs.items()]
        for item in core.add_jsonl(COLLECTION, lines):
            if item.error:
                log(f"article on line {item.line} not indexed: {item.error}")
        index_s = time.perf_counter() - t0
        passages_n = core.stats(COLLECTION).paragraphs
        log(f"indexed {len(docs)} articles in {index_s:.1f} s")
        quotes, passages = Score("citebot quotes"), Score("citebot passages")
        verified = total_quotes = dated = 0
        for r in rows:
            t = time.perf_counter()
            as_of = published_date(r.get("question_date")) if dates else None
            dated += as_of is not None
            answer = core.ask(COLLECTION, r["question"], as_of=as_of)
            elapsed = time.perf_counter() - t
            quote_units = [(q.citation.article_id, q.text) for q in answer.quotes]
            passage_units = [(p.passage.article.id, p.passage.text) for p in answer.passages]
            quotes.add(quote_units, r["doc_id"], r["answers"], elapsed)
            passages.add(passage_units, r["doc_id"], r["answers"], elapsed)
            by_id = {p.passage.id: p.passage for p in answer.passages}
            for q in answer.quotes:
                total_quotes += 1
                verified += any(p.text[q.start:q.end] == q.text for p in by_id.values())
        scores = [quotes, passages]
        if baselines:
            scores.extend(_baselines(docs, rows, core, log))
    finally:
        core.close()
    return {
        "file": path.name, "questions": len(rows), "left_out_not_verbatim": skipped,
        "articles": len(docs), "passages": passages_n, "index_seconds": round(index_s, 1),
        "passages_per_second": round(passages_n / index_s, 1), "model": core.embedder.name,
        "encoder": settings.encoder,
        "quotes_verified": f"{verified}/{total_quotes}", "asked_on_their_date": dated,
        "results": [s.row() for s in scores],
    }


def _baselines(docs: dict[str, dict], rows: list[dict],  # type: ignore[type-arg]
               core: Core, log: Callable[[str], None]) -> list[Score]:
    from retrieval.baselines import bm25_paragraphs, chunk_dense

    out = []
    try:
        out.append(chunk_dense(docs, rows, core.embedder, Score))
    except ImportError:  # the optional evaluation extra is not installed
        log("the chunks + dense baseline needs langchain-text-splitters (pip install -e "
            "'.[eval]'); scored without it")
    out.append(bm25_paragraphs(docs, rows, Score))
    return out
