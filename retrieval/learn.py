"""Fitting a linear ranker: which of a question's candidates answers it.

Listwise logistic regression (a softmax over each question's candidates, cross-entropy
against the candidates that hold the answer), with an L2 penalty, by
Newton's method in numpy: the problem has tens of features and a few thousand candidates, so
nothing heavier is needed. Also a plain logistic regression, for yes/no decisions such as
"not found". Features are standardised inside; the weights returned apply to raw features.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Group = tuple[np.ndarray, np.ndarray]  # (candidates x features, 1 where the answer is)


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return (x - mean) / scale, mean, scale


def _to_raw(w: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, float]:
    raw = w / scale
    return raw, float(-(raw * mean).sum())


def fit_listwise(groups: Sequence[Group], *, l2: float = 1e-2, steps: int = 50) -> np.ndarray:
    """Weights w such that ``x @ w`` ranks each group's answering candidates first.

    Newton's method with backtracking on the penalised listwise loss (the Hessian is small:
    features x features). Groups without an answering candidate teach nothing and are
    skipped.
    """
    used = [(x, y) for x, y in groups if y.any() and len(y) > 1]
    if not used:
        raise ValueError("no group has an answering candidate")
    xs, mean, scale = _standardise(np.vstack([x for x, _ in used]))
    starts = np.cumsum([0] + [len(y) for _, y in used])[:-1]
    group = np.repeat(np.arange(len(used)), [len(y) for _, y in used])
    target = np.concatenate([y / y.sum() for _, y in used])
    n = len(used)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        scores = xs @ w
        top = np.maximum.reduceat(scores, starts)
        e = np.exp(scores - top[group])
        sums = np.add.reduceat(e, starts)
        log_p = scores - (top + np.log(sums))[group]
        value = -float((target * log_p).sum()) / n + 0.5 * l2 * float(w @ w)
        return value, e / sums[group]

    w = np.zeros(xs.shape[1])
    for _ in range(steps):
        value, p = loss(w)
        grad = xs.T @ (p - target) / n + l2 * w
        weighted = xs * p[:, None]
        means = np.add.reduceat(weighted, starts)
        hessian = (weighted.T @ xs - means.T @ means) / n + l2 * np.eye(len(w))
        step = np.linalg.solve(hessian, grad)
        w = _backtrack(lambda v: loss(v)[0], w, step, value, float(grad @ step))
        if float(grad @ step) < 1e-10:
            break
    return _to_raw(w, mean, scale)[0]


def _backtrack(loss: Callable[[np.ndarray], float], w: np.ndarray, step: np.ndarray,
               value: float, decrease: float) -> np.ndarray:
    """The largest of 1, 1/2, 1/4, ... of a Newton step that lowers the loss enough."""
    t = 1.0
    while t > 1e-6 and loss(w - t * step) > value - 0.25 * t * decrease:
        t /= 2
    return w - t * step


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-2,
                 steps: int = 50) -> tuple[np.ndarray, float]:
    """Weights and bias of P(y = 1 | x) = sigmoid(x @ w + b), by Newton's method."""
    xs, mean, scale = _standardise(x)
    xs = np.hstack([xs, np.ones((len(xs), 1))])
    penalty = np.full(xs.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not penalised

    def loss(w: np.ndarray) -> float:
        z = xs @ w
        return float(np.logaddexp(0, z).sum() - (y * z).sum()) / len(y) + 0.5 * float(
            (penalty * w) @ w)

    w = np.zeros(xs.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xs @ w)))
        grad = xs.T @ (p - y) / len(y) + penalty * w
        hessian = ((xs * (p * (1 - p))[:, None]).T @ xs / len(y) + np.diag(penalty)
                   + 1e-9 * np.eye(len(w)))
        step = np.linalg.solve(hessian, grad)
        w = _backtrack(loss, w, step, loss(w), float(grad @ step))
        if float(grad @ step) < 1e-10:
            break
    raw, shift = _to_raw(w[:-1], mean, scale)
    return raw, float(w[-1]) + shift


def top1(groups: Sequence[Group], w: np.ndarray) -> float:
    """Share of groups whose best-scored candidate answers (groups without one count as 0)."""
    return hit_at(groups, w, 1)


def hit_at(groups: Sequence[Group], w: np.ndarray, k: int) -> float:
    """Share of groups with an answering candidate among the k best-scored (stable order:
    of equal scores, the earlier candidate first)."""
    if not groups:
        return 0.0
    hits = sum(bool(y[np.argsort(-(x @ w), kind="stable")[:k]].any()) for x, y in groups if len(y))
    return hits / len(groups)
