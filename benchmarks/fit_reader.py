"""Judge a trained reader, and how its score would combine with the linear sentence score,
on tune-side articles the reader never saw in training, exactly as answering would read them:
the sentences of the first three passages, the ``--read`` best by the linear score, read by
the reader, ordered by ``w_reader * reader + w_linear * linear``.

    .venv/bin/python benchmarks/fit_reader.py CANDIDATES.jsonl... --model DIR_OR_ONNX
        [--fold 0 --folds 5] [--read 4 6 8 12]

CANDIDATES.jsonl are files written by ``benchmarks/reader_data.py`` (the tune side's own
questions); only the articles of ``--fold`` are used, the fold ``train_reader.py --hold-out``
left out. A directory is read with torch (transformers' format), an ``.onnx`` file with
ONNX Runtime, as citebot runs it. For each ``--read`` it prints the first sentence's hit rate
of the linear ranking, of the reader alone and of the combination (its weights fitted by
two-fold cross-validation inside the judged questions), and how often an answering sentence
is among those read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from train_reader import held_out  # noqa: E402

from index.encode.reader import MAX_TOKENS, Reader, reader_pair  # noqa: E402
from retrieval.learn import Group, fit_listwise, top1  # noqa: E402

PASSAGES = 3  # the sentence ranker's passages (retrieval.rank.SentenceRanker)


def torch_scorer(path: Path) -> Any:
    """Scores pairs with a trained reader in transformers' format (before its export)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()

    def score(pairs: list[tuple[str, str]]) -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, len(pairs), 64):
                a, b = zip(*pairs[i:i + 64], strict=True)
                enc = tokenizer(list(a), list(b), padding=True, truncation="only_second",
                                max_length=MAX_TOKENS, return_tensors="pt")
                out.append(model(**enc).logits.squeeze(-1).numpy())
        return np.concatenate(out) if out else np.zeros(0)

    return score


def judged(path: Path, fold: int | None, folds: int) -> list[dict[str, Any]]:
    """The questions of a candidates file that are judged: those of the articles of ``fold``
    (every one when None) with a candidate among the passages answering reads."""
    return [r for r in map(json.loads, path.open(encoding="utf-8"))
            if (fold is None or held_out(r["doc_id"], fold, folds))
            and any(c["rank"] < PASSAGES for c in r["candidates"])]


def head(row: dict[str, Any], read: int) -> list[dict[str, Any]]:
    """The candidates answering reads: of the first passages, the best by the linear score
    (a stable sort, as the sentence ranker's)."""
    cands = [c for c in row["candidates"] if c["rank"] < PASSAGES]
    return sorted(cands, key=lambda c: -c["linear"])[:read]


def groups_of(rows: list[dict[str, Any]], read: int, scores: dict[tuple[str, int, int, str],
              float]) -> list[Group]:
    out = []
    for r in rows:
        cands = head(r, read)
        x = np.array([[scores[key(r, c)], c["linear"]] for c in cands]).reshape(-1, 2)
        out.append((x, np.array([c["label"] for c in cands], dtype=float)))
    return out


def key(row: dict[str, Any], c: dict[str, Any]) -> tuple[str, int, int, str]:
    return (c["article"], c["paragraph"], c["sentence"], row["question"])


def two_fold(groups: list[Group]) -> float:
    halves = (groups[::2], groups[1::2])
    hits = sum(top1(test, fit_listwise(train)) * len(test)
               for train, test in ((halves[0], halves[1]), (halves[1], halves[0])))
    return hits / max(len(groups), 1)


def trained_weight(model: Path) -> float | None:
    """The linear score's weight a reader trained with ``train_reader.py --residual`` learnt
    beside it (its ``training.json``); None for a reader trained alone."""
    recipe = (model if model.is_dir() else model.parent) / "training.json"
    if not recipe.exists():
        return None
    weight = json.loads(recipe.read_text(encoding="utf-8")).get("linear_weight")
    return float(weight) if weight is not None else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--read", type=int, nargs="+", default=[8])
    args = parser.parse_args()
    score = (Reader(args.model).score if args.model.suffix == ".onnx"
             else torch_scorer(args.model))
    rows = [r for path in args.files for r in judged(path, args.fold, args.folds)]
    scores: dict[tuple[str, int, int, str], float] = {}
    for r in rows:
        cands = head(r, max(args.read))
        pairs = [reader_pair(r["question"], c["title"], c["before"], c["text"], c["after"])
                 for c in cands]
        for c, s in zip(cands, score(pairs), strict=True):
            scores[key(r, c)] = float(s)
    sets = sorted({r["set"] for r in rows})
    trained = trained_weight(args.model)
    for read in args.read:
        for name in [*sets, "all"]:
            chosen = [r for r in rows if name in ("all", r["set"])]
            groups = groups_of(chosen, read, scores)
            print(f"read {read:>2} {name:<20} {len(groups):>4} questions: first sentence right "
                  f"linear {top1(groups, np.array([0.0, 1.0])):.3f}, "
                  f"reader {top1(groups, np.array([1.0, 0.0])):.3f}, "
                  f"combined (2-fold) {two_fold(groups):.3f}"
                  + (f", as trained (reader + {trained:.2f} x linear) "
                     f"{top1(groups, np.array([1.0, trained])):.3f}" if trained else "")
                  + "; an answer among those read "
                  f"{sum(bool(y.any()) for _, y in groups) / max(len(groups), 1):.3f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
