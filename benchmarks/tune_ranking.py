"""Fit the passage ranker, the sentence ranker and the "not found" decision on the tune side
of the split, from caches made by ``benchmarks/rank_cache.py``, and print how each does in
cross-validation (5 folds by article, all within the tune side) against the hand-set rules
it replaces.

    .venv/bin/python benchmarks/tune_ranking.py CACHE.pkl [CACHE2.pkl ...] [--write]

With ``--write`` the weights fitted on every cached question go to ``retrieval/weights.py``,
with the "not found" bias shifted so that ``CITEBOT_MIN_SCORE`` (0.40) sits where 2% of the
tune side's answerable questions would be answered "not found" (``--not-found``).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import pickle
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.text import answer_form  # noqa: E402
from retrieval.features import (  # noqa: E402
    PASSAGE_FEATURES,
    SENTENCE_FEATURES,
    SentenceFeatures,
    passage_matrix,
    sentence_text,
)
from retrieval.learn import Group, fit_listwise, fit_logistic, hit_at  # noqa: E402
from retrieval.question import analyse  # noqa: E402
from retrieval.rank import FOUND_FEATURES, PassageRanker, found_features, vector  # noqa: E402

FOLDS = 5
Item = dict[str, Any]


def holds_answer(item: Item, article_id: str, text: str) -> bool:
    row = item["row"]
    keys = [k for k in (answer_form(a) for a in row["answers"]) if k]
    return article_id == row["doc_id"] and any(k in answer_form(text) for k in keys)


def fold_of(item: Item) -> int:
    return int(hashlib.sha256(item["row"]["doc_id"].encode()).hexdigest()[:8], 16) % FOLDS


def today(item: Item) -> date:
    return item["as_of"] or date.today()


def passage_groups(items: list[Item]) -> list[Group]:
    groups = []
    for item in items:
        ranked = item["own"]["ranked"]
        x = passage_matrix(analyse(item["row"]["question"]), ranked, today(item))
        y = np.array([holds_answer(item, r.passage.article.id, r.passage.text) for r in ranked],
                     dtype=float)
        groups.append((x, y))
    return groups


def sentence_group(item: Item, ranked: list[Any]) -> Group:
    cands, x = SentenceFeatures(analyse(item["row"]["question"]), ranked).matrix(ranked, 3)
    y = np.array([holds_answer(item, r.passage.article.id, sentence_text(r.passage, i))
                  for r, i in cands], dtype=float)
    return x, y


def by_fold(items: list[Item], groups: list[Group], fit: Callable[[list[Group]], np.ndarray],
            ) -> list[np.ndarray]:
    """For each item, the weights fitted on the other folds."""
    folds = [fold_of(i) for i in items]
    fitted = [fit([g for g, f in zip(groups, folds, strict=True) if f != k])
              for k in range(FOLDS)]
    return [fitted[f] for f in folds]


SETS: list[str] = []  # the set of each item, in order (the cache it came from)


def report(name: str, groups: list[Group], weights: list[np.ndarray]) -> None:
    """Hit@1 and hit@5 over all items, then over each set's."""
    hits = np.array([[hit_at([g], w, k) for k in (1, 5)]
                     for g, w in zip(groups, weights, strict=True)])
    line = f"{name:>44}: hit@1 {hits[:, 0].mean():.3f}  hit@5 {hits[:, 1].mean():.3f}"
    if len(set(SETS)) > 1:
        for tag in dict.fromkeys(SETS):
            mine = hits[[s == tag for s in SETS]]
            line += f"  | {tag} {mine[:, 0].mean():.3f} / {mine[:, 1].mean():.3f}"
    print(line)


def tune_passages(items: list[Item], l2: float) -> tuple[np.ndarray, list[np.ndarray]]:
    groups = passage_groups(items)
    order = [(-np.arange(len(y), dtype=float)[:, None], y) for _, y in groups]
    report("passages, hand-set rules (before)", order, [np.ones(1)] * len(order))
    oof = by_fold(items, groups, lambda g: fit_listwise(g, l2=l2))
    report("passages, learned (cross-validated)", groups, oof)
    for drop in PASSAGE_FEATURES:
        keep = np.array([f != drop for f in PASSAGE_FEATURES], dtype=float)
        masked = [(x * keep, y) for x, y in groups]
        report(f"  without {drop}", masked,
               by_fold(items, masked, lambda g: fit_listwise(g, l2=l2)))
    return fit_listwise(groups, l2=l2), oof


def tune_sentences(items: list[Item], oof_passages: list[np.ndarray],
                   l2: float) -> tuple[np.ndarray, list[np.ndarray], list[list[Any]]]:
    reranked = [PassageRanker(dict(zip(PASSAGE_FEATURES, w, strict=True))).rerank(
        analyse(i["row"]["question"]), i["own"]["ranked"], today(i))[:8]
        for i, w in zip(items, oof_passages, strict=True)]
    groups = [sentence_group(i, r) for i, r in zip(items, reranked, strict=True)]
    hand = [sentence_group(i, i["own"]["ranked"][:8]) for i in items]
    rules = vector({"coverage": 0.8, "passage_score": 0.2, "type_match": 0.1,
                    "speaker_match": 0.3}, SENTENCE_FEATURES)  # the lexical QuoteSelector's
    report("first sentence, hand-set rules (before)", hand, [rules] * len(hand))
    oof = by_fold(items, groups, lambda g: fit_listwise(g, l2=l2))
    report("first sentence, learned (cross-validated)", groups, oof)
    return fit_listwise(groups, l2=l2), oof, reranked


def tune_found(items: list[Item], oof_passages: list[np.ndarray], oof_sentences: list[np.ndarray],
               reranked: list[list[Any]], l2: float, target: float) -> tuple[np.ndarray, float]:
    x, y = [], []
    for item, wp, ws, own in zip(items, oof_passages, oof_sentences, reranked, strict=True):
        info = analyse(item["row"]["question"])
        other = PassageRanker(dict(zip(PASSAGE_FEATURES, wp, strict=True))).rerank(
            info, item["other"]["ranked"], today(item))[:8]
        for ranked, label in ((own, 1.0), (other, 0.0)):
            best = None
            if ranked:
                cands, feats = SentenceFeatures(info, ranked).matrix(ranked, 3)
                best = cands[int(np.argmax(feats @ ws))] if cands else None
            x.append(found_features(info, ranked, best))
            y.append(label)
    xs, ys = np.array(x), np.array(y)
    folds = np.repeat([fold_of(i) for i in items], 2)
    z = np.zeros(len(ys))
    for k in range(FOLDS):
        w, b = fit_logistic(xs[folds != k], ys[folds != k], l2=l2)
        z[folds == k] = xs[folds == k] @ w + b
    print("not found, learned (cross-validated): answerable answered 'not found' | "
          "unanswerable answered")
    for q in (0.01, 0.02, 0.03, 0.05):
        t = np.quantile(z[ys == 1], q)
        print(f"{'':>10}{100 * np.mean(z[ys == 1] < t):5.1f}% | "
              f"{100 * np.mean(z[ys == 0] >= t):5.1f}%")
    w, b = fit_logistic(xs, ys, l2=l2)
    threshold = float(np.quantile(xs[ys == 1] @ w + b, target))
    return w, b - threshold + math.log(0.4 / 0.6)  # relevance 0.40 at the threshold


def write(path: Path, wp: np.ndarray, ws: np.ndarray, wf: np.ndarray, bias: float) -> None:
    head = path.read_text(encoding="utf-8").split("PASSAGE_WEIGHTS")[0]
    body = "".join(f"{name}: dict[str, float] = {{\n" + "".join(
        f"    {f!r}: {v:.4f},\n" for f, v in zip(features, w, strict=True)) + "}\n"
        for name, features, w in (("PASSAGE_WEIGHTS", PASSAGE_FEATURES, wp),
                                  ("SENTENCE_WEIGHTS", SENTENCE_FEATURES, ws),
                                  ("FOUND_WEIGHTS", FOUND_FEATURES, wf)))
    path.write_text(head + body + f"FOUND_BIAS = {bias:.4f}\n", encoding="utf-8")
    print(f"weights written to {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("caches", type=Path, nargs="+")
    parser.add_argument("--l2", type=float, default=1e-2)
    parser.add_argument("--not-found", type=float, default=0.02,
                        help="share of answerable questions the threshold may call not found")
    parser.add_argument("--write", action="store_true", help="write retrieval/weights.py")
    parser.add_argument("--per-cache", type=int, default=300,
                        help="questions taken from each cache (the first ones), so that no "
                        "set outweighs the others")
    args = parser.parse_args()
    items = []
    for cache in args.caches:
        mine = pickle.loads(cache.read_bytes())[: args.per_cache]
        items += mine
        SETS.extend([cache.stem] * len(mine))
    print(f"{len(items)} questions of the tune side of {len(args.caches)} set(s)")
    wp, oof_p = tune_passages(items, args.l2)
    ws, oof_s, reranked = tune_sentences(items, oof_p, args.l2)
    wf, bias = tune_found(items, oof_p, oof_s, reranked, args.l2, args.not_found)
    if args.write:
        write(ROOT / "retrieval" / "weights.py", wp, ws, wf, bias)
    return 0


if __name__ == "__main__":
    sys.exit(main())
