"""Judge a trained reader offline on candidate files: is the sentence it puts first the one that
answers? Side by side with the current linear sentence ranking and a learned combination of
both (fitted by two-fold cross-validation inside the judged questions).

    .venv/bin/python benchmarks/reader_eval.py CANDIDATES.jsonl... --model DIR_OR_ONNX
        [--fold F --folds 5]

With ``--fold``, only the articles of that held-out fold are judged (train with
``train_reader.py --hold-out F`` to judge on questions the reader never saw). A directory is
read with torch (transformers format), an ``.onnx`` file with ONNX Runtime, as citebot runs it.
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
from retrieval.learn import fit_listwise, top1  # noqa: E402


def torch_scorer(path: Path) -> Any:
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


def features(c: dict[str, Any], reader: float) -> list[float]:
    return [reader, c["linear"], c["passage_score"], float(c["rank"] == 0), c["dense"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--fold", type=int, default=None)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    score = (Reader(args.model).score if args.model.suffix == ".onnx"
             else torch_scorer(args.model))
    for path in args.files:
        rows = [json.loads(line) for line in path.open(encoding="utf-8")]
        rows = [r for r in rows if r["candidates"]
                and (args.fold is None or held_out(r["doc_id"], args.fold, args.folds))]
        groups = []
        for r in rows:
            cands = r["candidates"]
            pairs = [reader_pair(r["question"], c["title"], c["before"], c["text"], c["after"])
                     for c in cands]
            s = score(pairs)
            x = np.array([features(c, float(v)) for c, v in zip(cands, s, strict=True)])
            groups.append((x, np.array([c["label"] for c in cands], dtype=float)))
        report(path.name, groups)
    return 0


def report(name: str, groups: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """hit@1 of the linear ranking, the reader alone and both combined (two-fold)."""
    n = len(groups)
    only = {"linear": np.array([0, 1, 0, 0, 0.0]), "reader": np.array([1, 0, 0, 0, 0.0])}
    row = {k: round(top1(groups, w), 3) for k, w in only.items()}
    halves = (groups[::2], groups[1::2])
    hits = 0.0
    for train, test in ((halves[0], halves[1]), (halves[1], halves[0])):
        w = fit_listwise(train)
        hits += top1(test, w) * len(test)
    row["combined (2-fold)"] = round(hits / max(n, 1), 3)
    row["any answering candidate"] = round(sum(bool(y.any()) for _, y in groups) / max(n, 1), 3)
    print(f"{name}: {n} questions, hit@1 {row}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
