"""The baselines ``citebot eval`` scores beside citebot, on the same articles and questions.

1. What a generic RAG tutorial does: 1,000-character chunks with 200 overlap (langchain's
   recursive character splitter), the same embedding model, exact cosine search.
2. BM25 over raw paragraphs alone (SQLite FTS5), no cleaning, no vectors.
"""

from __future__ import annotations

import time

import numpy as np

from index.encode.embed import Embedder
from index.store.lexical import ScratchIndex
from index.text import content_words, split_paragraphs
from retrieval.evaluation.scoring import Row, Unit

Ranked = tuple[list[Unit], float]  # the first 10 units of one question, and its latency


def chunk_dense(docs: dict[str, Row], rows: list[Row], embedder: Embedder) -> list[Ranked]:
    """Per question, the best 1,000-character chunks by cosine."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    units: list[tuple[str, str]] = []
    for doc_id, r in docs.items():
        units.extend((doc_id, c) for c in splitter.split_text(r["doc_text"]))
    matrix = embedder.embed([u[1] for u in units])
    out: list[Ranked] = []
    for r in rows:
        t = time.perf_counter()
        sims = matrix @ embedder.embed_query(r["question"])
        top = np.argsort(-sims)[:10]
        out.append(([units[i] for i in top], time.perf_counter() - t))
    return out


def bm25_paragraphs(docs: dict[str, Row], rows: list[Row]) -> list[Ranked]:
    """Per question, the best raw paragraphs by FTS5's BM25."""
    index = ScratchIndex((para, doc_id) for doc_id, r in docs.items()
                         for para in split_paragraphs(r["doc_text"]))
    out: list[Ranked] = []
    for r in rows:
        t = time.perf_counter()
        found = index.search(content_words(r["question"]), 10)
        out.append((found, time.perf_counter() - t))
    index.close()
    return out
