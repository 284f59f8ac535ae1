"""The baselines ``citebot eval`` scores beside citebot, on the same articles and questions.

1. What a generic RAG tutorial does: 1,000-character chunks with 200 overlap (langchain's
   recursive character splitter), the same embedding model, exact cosine search.
2. BM25 over raw paragraphs alone (SQLite FTS5), no cleaning, no vectors.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from index.encode.embed import Embedder
from index.ingest.clean import split_paragraphs
from index.store.lexical import ScratchIndex
from index.text import content_words


def chunk_dense(docs: dict[str, dict[str, Any]], rows: list[dict[str, Any]],
                embedder: Embedder, score_cls: Any) -> Any:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    units: list[tuple[str, str]] = []
    for doc_id, r in docs.items():
        units.extend((doc_id, c) for c in splitter.split_text(r["doc_text"]))
    matrix = embedder.embed([u[1] for u in units])
    score = score_cls("baseline: 1000-char chunks + dense")
    for r in rows:
        t = time.perf_counter()
        sims = matrix @ embedder.embed_query(r["question"])
        top = np.argsort(-sims)[:10]
        score.add([units[i] for i in top], r["doc_id"], r["answers"], time.perf_counter() - t)
    return score


def bm25_paragraphs(docs: dict[str, dict[str, Any]], rows: list[dict[str, Any]],
                    score_cls: Any) -> Any:
    index = ScratchIndex((para, doc_id) for doc_id, r in docs.items()
                         for para in split_paragraphs(r["doc_text"]))
    score = score_cls("baseline: BM25 over paragraphs")
    for r in rows:
        t = time.perf_counter()
        found = index.search(content_words(r["question"]), 10)
        score.add(found, r["doc_id"], r["answers"], time.perf_counter() - t)
    index.close()
    return score
