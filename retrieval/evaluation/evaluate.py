"""``citebot eval``: answer quality on a question set, side by side with two baselines.

The question file follows the evaluation schema (id, question, answers, doc_id, doc_title,
doc_text, ...). Every distinct article is indexed into a fresh collection and the questions
are asked there; questions whose answer is not verbatim in the article (``answer_in_doc``
false) are left out and counted. Each question belongs to the tune or the report side of a
fixed split (``evaluation.splits``): rules are tuned on one side and judged on the other, and
both are printed. Besides hit@k (``evaluation.scoring``), two rates of the "not found"
decision: answerable questions answered "not found", and unanswerable questions answered at
all, where the unanswerable questions are each side's questions asked of a collection that
holds only the other side's articles.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.settings import Settings
from index.encode.embed import Embedder, load_embedder
from index.errors import CitebotError
from retrieval.core import Core
from retrieval.evaluation.scoring import (
    RememberingEmbedder,
    Row,
    Score,
    articles_of,
    holds_answer,
    load_questions,
)
from retrieval.evaluation.splits import SPLITS, article_sides

__all__ = ["Score", "articles_of", "evaluate", "load_questions", "open_remembering"]

COLLECTION = "eval"
METHODS = ("citebot quotes", "citebot passages", "baseline: 1000-char chunks + dense",
           "baseline: BM25 over paragraphs")


@dataclass
class Tally:
    """Everything counted on one side of the split."""

    scores: dict[str, Score] = field(
        default_factory=lambda: {m: Score(m) for m in METHODS})
    not_found: int = 0
    verified: int = 0
    quotes: int = 0
    unanswerable: int = 0
    unanswerable_answered: int = 0
    unanswerable_quoted: int = 0  # answered, and the first quote holds the answer all the same
    articles: set[str] = field(default_factory=set)

    def row(self) -> dict[str, object]:
        n = self.scores["citebot passages"].n
        return {
            "questions": n, "articles": len(self.articles),
            "answerable_not_found": round(self.not_found / max(n, 1), 3),
            "unanswerable_asked": self.unanswerable,
            "unanswerable_answered": (round(self.unanswerable_answered / self.unanswerable, 3)
                                      if self.unanswerable else None),
            "unanswerable_answer_quoted": (round(self.unanswerable_quoted / self.unanswerable, 3)
                                           if self.unanswerable else None),
            "quotes_verified": f"{self.verified}/{self.quotes}",
            "results": [s.row() for s in self.scores.values() if s.n]}


def evaluate(path: Path, settings: Settings, *, limit: int | None = None,
             baselines: bool = True, dates: bool = True, split: str = "all",
             unanswerable: bool = True, log: Callable[[str], None] = lambda message: None,
             open_core: Callable[[Settings], Core] | None = None,
             collection: str = COLLECTION) -> dict[str, object]:
    """Index the file's articles into ``collection`` (and each side's alone into
    ``collection-without-SIDE``), ask the questions of ``split`` (tune, report or all),
    score. CitebotError, before anything is indexed, when one of those collections holds
    articles that are not the file's: the figures would be the mixture's.

    With ``dates``, a question that has a ``question_date`` is asked as of that day, as a
    member would have asked it then: articles published later are left out and recent ones
    preferred. The baselines never read dates.
    """
    rows, skipped = load_questions(path)
    sides, docs = article_sides(rows), articles_of(rows)
    wanted = SPLITS if split == "all" else (split,)
    asked = [r for r in rows if sides[r["doc_id"]] in wanted][:limit]
    tallies = {s: Tally() for s in (*wanted, "all")} if split == "all" else {split: Tally()}
    core = (open_core or open_remembering)(settings)
    try:
        refuse_others(core, [collection, *(f"{collection}-without-{s}" for s in wanted)],
                      set(docs), path.name)
        index_s = index_articles(core, collection, docs.values(), log)
        passages_n = core.stats(collection).paragraphs
        dated = sum(ask_and_score(core, collection, r, _tallies(tallies, sides[r["doc_id"]]),
                                  dates) for r in asked)
        if baselines:
            score_baselines(docs, asked, core,
                            lambda r: _tallies(tallies, sides[r["doc_id"]]), log)
        if unanswerable:
            for side in wanted:
                ask_elsewhere(core, f"{collection}-without-{side}",
                              [r for r in asked if sides[r["doc_id"]] == side],
                              [d for d, s in sides.items() if s != side], docs,
                              _tallies(tallies, side), dates, log)
    finally:
        core.close()
    return {
        "file": path.name, "split": split, "left_out_not_verbatim": skipped,
        "articles": len(docs), "passages": passages_n, "index_seconds": round(index_s, 1),
        "passages_per_second": round(passages_n / max(index_s, 1e-9), 1),
        "model": core.embedder.name, "reader": core.reader_name(), "encoder": settings.encoder,
        "asked_on_their_date": dated,
        "sides": {s: t.row() for s, t in tallies.items()}}


def open_remembering(settings: Settings, embedder: Embedder | None = None) -> Core:
    """The core, with an embedder that embeds an article indexed twice only once (the
    evaluation indexes each side's articles again, alone)."""
    embedder = embedder or load_embedder(
        settings.model, batch_size=settings.embed_batch_size, encoder=settings.encoder,
        cache_dir=settings.model_cache)
    return Core.open(settings, embedder=RememberingEmbedder(embedder))


def refuse_others(core: Core, collections: list[str], ids: set[str], name: str) -> None:
    """CitebotError if one of these collections holds an article whose id is not in ``ids``
    (another set evaluated on the same store earlier): nothing is indexed then."""
    for collection in collections:
        others = [a.id for a in core.articles(collection, limit=-1) if a.id not in ids]
        if others:
            raise CitebotError(
                f"Collection {collection!r} already holds {len(others)} articles that are "
                f"not in {name}, so the figures would not be this set's alone; evaluate in a "
                "fresh collection (--collection NAME) or another data directory or database.")


def _tallies(tallies: dict[str, Tally], side: str) -> list[Tally]:
    return [t for s, t in tallies.items() if s in (side, "all")]


def index_articles(core: Core, collection: str, docs: Iterable[Row],
                   log: Callable[[str], None]) -> float:
    """Add the articles (unchanged ones are skipped); returns the seconds it took."""
    t0 = time.perf_counter()
    lines = [json.dumps({"id": r["doc_id"], "title": r.get("doc_title") or r["doc_id"],
                         "text": r["doc_text"], "url": r.get("doc_url"),
                         "published": r.get("doc_publish_date")}) for r in docs]
    for item in core.add_jsonl(collection, lines):
        if item.error:
            log(f"article on line {item.line} not indexed: {item.error}")
    seconds = time.perf_counter() - t0
    log(f"indexed {len(lines)} articles into {collection!r} in {seconds:.1f} s")
    return seconds


def _as_of(row: Row, dates: bool) -> Any:
    from retrieval.features import published_date

    return published_date(row.get("question_date")) if dates else None


def ask_and_score(core: Core, collection: str, r: Row, tallies: list[Tally],
                  dates: bool) -> bool:
    """Ask one answerable question and count it; True when it was asked as of its date."""
    as_of = _as_of(r, dates)
    t = time.perf_counter()
    answer = core.ask(collection, r["question"], as_of=as_of)
    elapsed = time.perf_counter() - t
    quote_units = [(q.citation.article_id, q.text) for q in answer.quotes]
    passage_units = [(p.passage.article.id, p.passage.text) for p in answer.passages]
    texts = {p.passage.id: p.passage.text for p in answer.passages}
    verified = sum(any(text[q.start:q.end] == q.text for text in texts.values())
                   for q in answer.quotes)
    for tally in tallies:
        tally.scores["citebot quotes"].add(quote_units, r["doc_id"], r["answers"], elapsed)
        tally.scores["citebot passages"].add(passage_units, r["doc_id"], r["answers"], elapsed)
        tally.not_found += not answer.found
        tally.quotes += len(answer.quotes)
        tally.verified += verified
        tally.articles.add(r["doc_id"])
    return as_of is not None


def score_baselines(docs: dict[str, Row], asked: list[Row], core: Core,
                    tallies_of: Callable[[Row], list[Tally]],
                    log: Callable[[str], None]) -> None:
    """Both baselines over every article, each question scored on its side."""
    from retrieval.evaluation.baselines import Ranked, bm25_paragraphs, chunk_dense

    runs: list[tuple[str, list[Ranked]]] = []
    try:
        runs.append((METHODS[2], chunk_dense(docs, asked, core.embedder)))
    except ImportError:  # the optional evaluation extra is not installed
        log("the chunks + dense baseline needs langchain-text-splitters (pip install -e "
            "'.[eval]'); scored without it")
    runs.append((METHODS[3], bm25_paragraphs(docs, asked)))
    for name, ranked in runs:
        for r, (units, latency) in zip(asked, ranked, strict=True):
            for tally in tallies_of(r):
                tally.scores[name].add(units, r["doc_id"], r["answers"], latency)


def ask_elsewhere(core: Core, collection: str, questions: list[Row], other: list[str],
                  docs: dict[str, Row], tallies: list[Tally], dates: bool,
                  log: Callable[[str], None]) -> None:
    """Ask one side's questions of ``collection``, of the other side's articles alone, where
    their article is not, and count how many are answered all the same, and how many of
    those quote the answer first anyway (another article on the same story holds it)."""
    index_articles(core, collection, [docs[d] for d in other], log)
    for r in questions:
        answer = core.ask(collection, r["question"], as_of=_as_of(r, dates))
        quoted = answer.found and holds_answer(answer.quotes[0].text, r["answers"])
        for tally in tallies:
            tally.unanswerable += 1
            tally.unanswerable_answered += answer.found
            tally.unanswerable_quoted += quoted
