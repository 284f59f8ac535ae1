"""What the core needs from a storage backend, and the small typed values it returns.

A backend keeps, per collection: articles with their paragraphs, sentences and speakers; one
vector per embedded window (a paragraph, or a sentence-aligned piece of a long one); a
lexical index of the paragraphs; and feedback. The invariants every backend keeps are listed
in docs/ARCHITECTURE.md (one collection never sees another's rows; a change is all or
nothing; searches never wait for writers and never see vectors that were not committed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import NamedTuple, Protocol

import numpy as np

from index.models import Article, Chunk, Passage, PreparedArticle


class Hit(NamedTuple):
    """A paragraph found by a search, and its score (cosine, or BM25)."""

    paragraph: int
    score: float


@dataclass(frozen=True)
class Stats:
    """A collection's figures: counts, and what its vector index is."""

    articles: int
    paragraphs: int
    chunks: int
    generation: int
    model: str
    dim: int
    index: str | None  # "flat" or "ivf-sq8"; None before the collection has vectors
    vectors: int | None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Vote:
    """A member's 👍 (1) or 👎 (-1) on one answer; a second vote on it replaces the first."""

    collection: str
    answer_id: str  # the answer's message, so that one member counts once per answer
    user_id: str
    question: str
    quotes: tuple[dict[str, object], ...]
    vote: int


class Storage(Protocol):
    """What the core needs from a storage backend."""

    model: str
    dim: int

    def find_existing(self, collection: str, article_id: str, canonical_url: str | None,
                      content_hash: str) -> Article | None: ...
    def put_article(self, collection: str, article_id: str, prepared: PreparedArticle,
                    vectors: np.ndarray, *, added_by: str | None = None) -> Article: ...
    def remove_article(self, collection: str, article_id: str) -> Article: ...
    def get_article(self, collection: str, article_id: str) -> Article: ...
    def list_articles(self, collection: str, *, limit: int = 1000, offset: int = 0,
                      search: str | None = None) -> list[Article]: ...
    def stats(self, collection: str) -> Stats: ...
    def passages(self, collection: str, ids: Sequence[int]) -> dict[int, Passage]: ...
    def dense_search(self, collection: str, query: np.ndarray, k: int,
                     article_id: str | None = None) -> list[Hit]: ...
    def lexical_search(self, collection: str, question: str, k: int,
                       article_id: str | None = None, also: Sequence[int] = ()) -> list[Hit]: ...
    def dense_scores(self, collection: str, paragraph_ids: Sequence[int],
                     query: np.ndarray) -> dict[int, float]: ...
    def rebuild(self, collection: str, embed: Callable[[list[str]], np.ndarray],
                chunker: Callable[[Article, list[Passage]], list[Chunk]],
                progress: Callable[[int, int], None] | None = None) -> int: ...
    def record_vote(self, vote: Vote) -> None: ...
    def meta_get(self, key: str) -> str | None: ...
    def meta_set(self, key: str, value: str) -> None: ...
    def close(self) -> None: ...
