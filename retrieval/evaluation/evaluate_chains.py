"""``citebot eval CHAINS.jsonl``: follow-up questions scored per turn, with and without context.

A chains file (``benchmarks/followup_chains.py`` writes them) holds article lines
(``{"kind": "article", "doc_id", "doc_title", "doc_text", ...}``) and chain lines
(``{"kind": "chain", "id", "doc_id", "split", "turns": [{"id", "question", "original",
"answers", "rule", "question_date"?}]}``). Every article is indexed into a fresh collection
(the others are distractors), then every chain is asked three ways:

- ``with context``: each turn as a follow-up in one conversation (``Core.ask(conversation=)``);
- ``without context``: each turn's question alone, as citebot answered before conversations;
- ``original question``: the question as the set wrote it, alone (what context could reach).

A turn is scored like ``citebot eval`` scores a question (``evaluate.Score``); a
turn without answers (a headline that sets the scene) is asked but not scored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from config.settings import Settings
from index.errors import CitebotError
from retrieval.core import Core
from retrieval.evaluation.evaluate import COLLECTION, Score, index_articles
from retrieval.features import published_date

MODES = ("without context", "with context", "original question")
Row = dict[str, Any]


def is_chains_file(path: Path) -> bool:
    """Whether the file's first record is a line of a chains file."""
    try:
        with open(path, encoding="utf-8") as fh:
            first = next((line for line in fh if line.strip()), "")
        return isinstance(record := json.loads(first or "{}"), dict) and "kind" in record
    except (OSError, ValueError):
        return False


def load_chains(path: Path) -> tuple[list[Row], list[Row]]:
    """(articles, chains) of a chains file."""
    articles: list[Row] = []
    chains: list[Row] = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    (articles if row.get("kind") == "article" else chains).append(row)
    except (OSError, ValueError) as exc:
        raise CitebotError(f"Cannot read the chains file {path}: {exc}") from exc
    return articles, [c for c in chains if c.get("kind") == "chain"]


def evaluate_chains(path: Path, settings: Settings, *, dates: bool = True,
                    log: Callable[[str], None] = lambda message: None,
                    open_core: Callable[[Settings], Core] = Core.open) -> dict[str, object]:
    """Index the file's articles into a fresh collection, ask every chain three ways, and
    score each turn; results per split, mode and turn number."""
    articles, chains = load_chains(path)
    core = open_core(settings)
    scores: dict[tuple[str, str, str], tuple[Score, Score]] = {}
    try:
        index_articles(core, COLLECTION, articles, log)
        log(f"asking {len(chains)} chains three ways")
        for chain in chains:
            for mode in MODES:
                _ask_chain(core, chain, mode, dates, scores)
    finally:
        core.close()
    return {"file": path.name, "chains": len(chains), "articles": len(articles),
            "turns": sum(len(c["turns"]) for c in chains), "model": core.embedder.name,
            "results": [{"split": split, "mode": mode, "turn": turn, **_row(q, p)}
                        for (split, mode, turn), (q, p) in sorted(scores.items(), key=_order)]}


def _ask_chain(core: Core, chain: Row, mode: str, dates: bool,
               scores: dict[tuple[str, str, str], tuple[Score, Score]]) -> None:
    conversation = f"{mode}:{chain['id']}" if mode == "with context" else None
    for n, turn in enumerate(chain["turns"], 1):
        question = turn["original"] if mode == "original question" else turn["question"]
        as_of = published_date(turn.get("question_date")) if dates else None
        answer = core.ask(COLLECTION, question, as_of=as_of, conversation=conversation)
        if not turn["answers"]:  # a turn that only sets the scene ("What happened: ...?")
            continue
        keys = [str(n)] + (["follow-ups"] if n > 1 else []) + (
            ["rewritten"] if turn.get("rule", "").startswith("pronoun") else [])
        for key in keys:
            for split in (chain.get("split", "all"), "all"):
                quotes, passages = scores.setdefault(
                    (split, mode, key), (Score("quotes"), Score("passages")))
                quotes.add([(q.citation.article_id, q.text) for q in answer.quotes],
                           chain["doc_id"], turn["answers"])
                passages.add([(p.passage.article.id, p.passage.text) for p in answer.passages],
                             chain["doc_id"], turn["answers"])


def _row(quotes: Score, passages: Score) -> dict[str, object]:
    q, p = quotes.row(), passages.row()
    return {"turns": q["questions"], "quotes hit@1": q["hit@1"], "passages hit@1": p["hit@1"],
            "passages hit@5": p["hit@5"], "right article@1": p["right_article@1"]}


def _order(item: tuple[tuple[str, str, str], Any]) -> tuple[int, str, int]:
    (split, mode, turn), _ = item
    turn_rank = int(turn) if turn.isdigit() else {"follow-ups": 10, "rewritten": 11}[turn]
    return ({"held-out": 0, "tune": 1}.get(split, 2), f"{turn_rank:02d}", MODES.index(mode))


def render_chains(report: dict[str, Any]) -> str:
    """The results as a table: per split, turn number and mode."""
    lines = [f"{report['file']}: {report['chains']} chains, {report['turns']} turns, over "
             f"{report['articles']} articles; model {report['model']}"]
    cols = ["split", "turn", "mode", "turns", "quotes hit@1", "passages hit@1",
            "passages hit@5", "right article@1"]
    lines.append("  ".join(f"{c:>17}" for c in cols))
    for r in report["results"]:
        lines.append("  ".join(f"{r[c]!s:>17}" for c in cols))
    lines.append('turn "follow-ups": every turn after the first; "rewritten": those whose '
                 "question a rule rewrote into a follow-up")
    return "\n".join(lines)
