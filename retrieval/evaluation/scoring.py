"""How answers are scored against a question set (the evaluation schema of docs/EVALUATION.md).

A hit at k is a unit (a quote, or a passage) among the first k that comes from the question's
``doc_id`` and contains one of its answers after normalisation (``index.text.answer_form``:
NFKD, lower case, punctuation removed, whitespace folded).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import CitebotError
from index.text import answer_form

Unit = tuple[str, str]  # (article id, text)
Row = dict[str, Any]  # one question of a question file


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
        rank = hit_rank(units, doc_id, answers)
        if rank:
            self.hits1 += rank == 1
            self.hits5 += rank <= 5
            self.rr += 1 / rank
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


def hit_rank(units: Sequence[Unit], doc_id: str, answers: list[str], depth: int = 10) -> int:
    """The rank (1-based) of the first unit that holds an answer, 0 when none of the first
    ``depth`` does."""
    for rank, (aid, text) in enumerate(units[:depth], 1):
        if aid == doc_id and holds_answer(text, answers):
            return rank
    return 0


def holds_answer(text: str, answers: list[str]) -> bool:
    """Whether the text holds one of the answers, both normalised."""
    form = answer_form(text)
    return any(k and k in form for k in map(answer_form, answers))


def load_questions(path: Path) -> tuple[list[Row], int]:
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


def articles_of(rows: list[Row]) -> dict[str, Row]:
    """Each distinct article of the questions (the first row that carries it)."""
    docs: dict[str, Row] = {}
    for r in rows:
        docs.setdefault(r["doc_id"], r)
    return docs


class RememberingEmbedder:
    """An embedder that embeds each distinct text once per process: an evaluation indexes
    the same articles into several collections (all of them; each side's alone)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.dim: int = inner.dim
        self.max_tokens: int = inner.max_tokens
        self._seen: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in self._seen))
        if new:
            self._seen.update(zip(new, self.inner.embed(new), strict=True))
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._seen[t] for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)  # type: ignore[no-any-return]

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)  # type: ignore[no-any-return]
