"""Fusing the two retrievers' scores: one pure function, used by the searcher to rank its
candidates and by the passage features to compare a passage with its article's best."""

from __future__ import annotations

from collections.abc import Mapping

DENSE_WEIGHT = 0.6  # cosine's share of the fused score (tuned with `citebot eval`)


def fuse(dense: Mapping[int, float], lexical: Mapping[int, float],
         dense_weight: float) -> dict[int, float]:
    """The fused score of every candidate of either retriever: ``w * cosine + (1 - w) *
    bm25``, BM25 normalised by the best BM25 of the question (a candidate one retriever did
    not score counts 0 there)."""
    top_lex = max(lexical.values(), default=0.0) or 1.0
    w = dense_weight
    return {p: w * dense.get(p, 0.0) + (1 - w) * lexical.get(p, 0.0) / top_lex
            for p in dense.keys() | lexical.keys()}
