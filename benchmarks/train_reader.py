"""Train the reader: a cross-encoder that reads a question and one candidate sentence (with its
article's title and its neighbours) together and scores whether the sentence answers.

    .venv/bin/python benchmarks/train_reader.py TUNE.jsonl... --out DIR
        [--epochs 1.5] [--negatives 5] [--max-tokens 96] [--seed 13] [--limit N]

TUNE.jsonl are files written by ``benchmarks/reader_data.py`` (tune sides only) and by
``benchmarks/reader_questions.py`` (questions generated from tune-side articles). The model
starts from the bundled all-MiniLM-L6-v2 weights with a new one-logit head and is trained
listwise: each step shows a question with one answering sentence and ``--negatives`` that do
not (the ones the current ranking puts first, then others of the same passages), and
minimises the cross-entropy of a softmax over them. DIR receives the trained weights
(transformers format) and ``training.json`` (the recipe, data counts, losses).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.encode.embed import bundled_model_path  # noqa: E402
from index.encode.reader import MAX_TOKENS, reader_pair  # noqa: E402
from retrieval.evaluation.scoring import holds_answer  # noqa: E402

Group = tuple[str, list[dict[str, Any]], list[dict[str, Any]]]  # question, positives, negatives


def held_out(doc_id: str, fold: int | None, folds: int) -> bool:
    """Whether an article's questions belong to the held-out fold (by a hash of its id, so
    that an article's questions, generated or asked, are never on both sides)."""
    digest = int(hashlib.sha256(doc_id.encode()).hexdigest()[:8], 16)
    return fold is not None and digest % folds == fold


def load_groups(paths: list[Path], limit: int | None, *, fold: int | None = None,
                folds: int = 5) -> list[Group]:
    """Questions with at least one answering candidate and one that does not answer, but
    those of the held-out ``fold``. A sentence of another article that holds the answer all
    the same is neither."""
    groups: list[Group] = []
    for path in paths:
        rows = [json.loads(line) for line in path.open(encoding="utf-8")]
        for row in rows[:limit]:
            if held_out(row["doc_id"], fold, folds):
                continue
            pos = [c for c in row["candidates"] if c["label"]]
            neg = [c for c in row["candidates"]
                   if not c["label"] and not holds_answer(c["text"], row["answers"])]
            if pos and neg:
                groups.append((row["question"], pos, neg))
    return groups


def choose(group: Group, negatives: int, rng: random.Random) -> list[dict[str, Any]]:
    """One positive first, then the hardest negatives by the current ranking (half) and
    random others (the rest)."""
    _, pos, neg = group
    hard = sorted(neg, key=lambda c: -c["linear"])
    k = min(negatives // 2 + 1, len(hard))
    chosen = hard[:k]
    rest = hard[k:]
    chosen += rng.sample(rest, min(negatives - len(chosen), len(rest)))
    return [rng.choice(pos), *chosen]


def draw(groups: list[Group], order: list[int], rng: random.Random) -> Group:
    """The next question of a shuffled pass over ``groups`` (``order`` holds what is left of
    the pass; a new pass starts when it is empty)."""
    if not order:
        order.extend(range(len(groups)))
        rng.shuffle(order)
    return groups[order.pop()]


def warmup_then_decay(optimizer: Any, steps: int) -> Any:
    """The learning rate over ``steps``: a linear warm-up over the first tenth, then a linear
    decay to nothing."""
    import torch

    warmup = max(1, steps // 10)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=float, default=1.5)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--groups-per-step", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit", type=int, default=None, help="questions per file (trials)")
    parser.add_argument("--hold-out", type=int, default=None, metavar="FOLD",
                        help="leave out the articles of this fold of --folds (for judging)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--residual", action="store_true",
                        help="train the reader's score added to the linear sentence score "
                             "(times a learned weight): it learns what the linear ranking "
                             "gets wrong instead of the whole task")
    args = parser.parse_args()

    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    rng = random.Random(args.seed)

    groups = load_groups(args.files, args.limit, fold=args.hold_out, folds=args.folds)
    path = bundled_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    model.train()
    steps = math.ceil(len(groups) * args.epochs / args.groups_per_step)
    beta = torch.nn.Parameter(torch.ones(()), requires_grad=args.residual)
    params = [{"params": model.parameters()}]
    if args.residual:
        params.append({"params": [beta], "lr": args.lr * 100, "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    schedule = warmup_then_decay(optimizer, steps)
    print(f"{len(groups)} questions, {steps} steps of {args.groups_per_step} questions x "
          f"{args.negatives + 1} sentences", flush=True)

    order: list[int] = []
    losses: list[float] = []
    t0 = time.perf_counter()
    for step in range(steps):
        batch = []
        for _ in range(args.groups_per_step):
            batch.append(draw(groups, order, rng))
        firsts, seconds, sizes, linear = [], [], [], []
        for group in batch:
            cands = choose(group, args.negatives, rng)
            for c in cands:
                linear.append(c["linear"])
                a, b = reader_pair(group[0], c["title"], c["before"], c["text"], c["after"])
                firsts.append(a)
                seconds.append(b)
            sizes.append(len(cands))
        enc = tokenizer(firsts, seconds, padding=True, truncation="only_second",
                        max_length=args.max_tokens, return_tensors="pt")
        logits = model(**enc).logits.squeeze(-1)
        if args.residual:
            logits = logits + beta * torch.tensor(linear, dtype=logits.dtype)
        loss = torch.zeros(())
        start = 0
        for n in sizes:  # the positive is each group's first candidate
            loss = loss - torch.log_softmax(logits[start:start + n], dim=0)[0]
            start += n
        loss = loss / len(sizes)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
        if (step + 1) % 25 == 0 or step + 1 == steps:
            rate = sum(sizes) * (step + 1) / (time.perf_counter() - t0)
            print(f"step {step + 1}/{steps} loss {np.mean(losses[-25:]):.3f} "
                  f"({rate:.1f} pairs/s)", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    recipe = {k: v for k, v in vars(args).items() if k not in ("files", "out")}
    (args.out / "training.json").write_text(json.dumps({
        "recipe": recipe, "files": [p.name for p in args.files], "questions": len(groups),
        "steps": steps, "seconds": round(time.perf_counter() - t0),
        "linear_weight": float(beta.detach()) if args.residual else None,
        "loss_first_100": float(np.mean(losses[:100])),
        "loss_last_100": float(np.mean(losses[-100:]))}, indent=2))
    print(f"saved to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
