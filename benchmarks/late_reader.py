"""A late-interaction reader: the bundled all-MiniLM-L6-v2 scores a sentence by MaxSim (each
question word's best cosine among the sentence's token vectors, averaged, as ColBERT does),
zero-shot or fine-tuned here as a correction of the linear sentence score. Unlike the
cross-encoder (``train_reader.py``), it starts from what the bundled model already knows: no
new head to learn from a few thousand questions.

    .venv/bin/python benchmarks/late_reader.py judge CANDIDATES.jsonl... [--model DIR]
    .venv/bin/python benchmarks/late_reader.py train TUNE.jsonl... --out DIR [--hold-out 0]

``judge`` prints, for the held-out fold of each file (``--fold``, as ``fit_reader.py``; -1:
every question), the
first sentence's hit rate of the linear ranking, of MaxSim alone, of the two combined
(two-fold, inside the judged questions) and, for a trained model, as trained. ``train`` takes
the files and recipe of ``train_reader.py`` (listwise, residual over the linear score).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fit_reader import head, judged, two_fold  # noqa: E402
from train_reader import choose, draw, load_groups, warmup_then_decay  # noqa: E402

from index.encode.embed import bundled_model_path  # noqa: E402
from retrieval.learn import top1  # noqa: E402

STOP = set("the a an of to in on for and or is was were are be by with at from as that this what "
           "which who whom whose when where why how did does do has have had it its their his "
           "her they he she".split())
MAX_TOKENS = 64


class Late:
    """MaxSim scores with a transformer (the bundled one, or one fine-tuned by ``train``)."""

    def __init__(self, path: Path | str) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path)
        self.stop_ids = {i for w in STOP for i in self.tokenizer(w, add_special_tokens=False)
                         ["input_ids"][:1]} | set(self.tokenizer.all_special_ids)
        punct = [self.tokenizer.convert_tokens_to_ids(t) for t in "?.,:;'\"!-"]
        self.stop_ids |= {i for i in punct if i is not None}

    def vectors(self, texts: list[str]) -> tuple[Any, Any, Any]:
        """Normalised token vectors, the mask of real tokens, and the mask of content ones."""
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS,
                             return_tensors="pt")
        out = self.model(**enc).last_hidden_state
        out = self.torch.nn.functional.normalize(out, dim=-1)
        ids = enc["input_ids"]
        real = enc["attention_mask"].bool() & ~self._special(ids)
        content = real & ~self.torch.isin(ids, self.torch.tensor(sorted(self.stop_ids)))
        content = self.torch.where(content.any(dim=1, keepdim=True), content, real)
        return out, real, content

    def _special(self, ids: Any) -> Any:
        return self.torch.isin(ids, self.torch.tensor(self.tokenizer.all_special_ids))

    def maxsim(self, question: str, sentences: list[str]) -> Any:
        """One MaxSim score per sentence (a tensor; with gradients when training)."""
        q, _, qc = self.vectors([question])
        s, sr, _ = self.vectors(sentences)
        sims = self.torch.einsum("qd,nsd->nqs", q[0], s)
        sims = sims.masked_fill(~sr[:, None, :], -1.0).max(dim=2).values  # n x q
        w = qc[0].float()
        return (sims * w).sum(dim=1) / w.sum()


def judge(args: argparse.Namespace) -> int:
    late = Late(args.model or bundled_model_path())
    late.model.eval()
    trained = None
    recipe = (args.model / "late.json") if args.model else None
    if recipe and recipe.exists():
        trained = json.loads(recipe.read_text(encoding="utf-8"))
    for path in args.files:
        rows = judged(path, args.fold if args.fold >= 0 else None, args.folds)
        groups = []
        with late.torch.no_grad():
            for r in rows:
                cands = head(r, args.read)
                ms = late.maxsim(r["question"], [c["text"] for c in cands]).numpy()
                x = np.array([[c["linear"], m] for c, m in zip(cands, ms, strict=True)])
                groups.append((x.reshape(-1, 2), np.array([c["label"] for c in cands], float)))
        line = (f"{path.name:<28} {len(groups):>4} questions: first sentence right linear "
                f"{top1(groups, np.array([1.0, 0.0])):.3f}, maxsim "
                f"{top1(groups, np.array([0.0, 1.0])):.3f}, combined (2-fold) "
                f"{two_fold(groups):.3f}")
        if trained:
            w = np.array([trained["linear_weight"], trained["scale"]])
            line += f", as trained {top1(groups, w):.3f}"
        print(line, flush=True)
    return 0


def train(args: argparse.Namespace) -> int:
    import torch

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    groups = load_groups(args.files, None, fold=args.hold_out, folds=args.folds)
    late = Late(bundled_model_path())
    late.model.train()
    scale = torch.nn.Parameter(torch.tensor(20.0))
    beta = torch.nn.Parameter(torch.tensor(1.0))
    optimizer = torch.optim.AdamW([
        {"params": late.model.parameters()},
        {"params": [scale, beta], "lr": args.lr * 1000, "weight_decay": 0.0}],
        lr=args.lr, weight_decay=0.01)
    steps = math.ceil(len(groups) * args.epochs / args.groups_per_step)
    schedule = warmup_then_decay(optimizer, steps)
    print(f"{len(groups)} questions, {steps} steps", flush=True)
    order: list[int] = []
    losses: list[float] = []
    t0 = time.perf_counter()
    for step in range(steps):
        loss = torch.zeros(())
        for _ in range(args.groups_per_step):
            group = draw(groups, order, rng)
            cands = choose(group, args.negatives, rng)
            ms = late.maxsim(group[0], [c["text"] for c in cands])
            logits = scale * ms + beta * torch.tensor([c["linear"] for c in cands])
            loss = loss - torch.log_softmax(logits, dim=0)[0]
        loss = loss / args.groups_per_step
        loss.backward()
        torch.nn.utils.clip_grad_norm_(late.model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
        if (step + 1) % 25 == 0 or step + 1 == steps:
            print(f"step {step + 1}/{steps} loss {np.mean(losses[-25:]):.3f} scale "
                  f"{float(scale.detach()):.1f} linear {float(beta.detach()):.2f} "
                  f"({(step + 1) / (time.perf_counter() - t0):.2f} steps/s)", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    late.model.save_pretrained(args.out)
    late.tokenizer.save_pretrained(args.out)
    (args.out / "late.json").write_text(json.dumps({
        "files": [p.name for p in args.files], "questions": len(groups), "steps": steps,
        "seconds": round(time.perf_counter() - t0), "scale": float(scale.detach()),
        "linear_weight": float(beta.detach()), "loss_first_100": float(np.mean(losses[:100])),
        "loss_last_100": float(np.mean(losses[-100:])),
        "recipe": {k: v for k, v in vars(args).items() if k not in ("files", "out", "run")}},
        indent=2))
    print(f"saved to {args.out}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", choices=("judge", "train"))
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--hold-out", type=int, default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--read", type=int, default=8)
    parser.add_argument("--epochs", type=float, default=1.5)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--groups-per-step", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    return judge(args) if args.run == "judge" else train(args)


if __name__ == "__main__":
    sys.exit(main())
