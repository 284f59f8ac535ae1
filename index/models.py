"""The small, frozen values the core passes around."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """An indexed article and where it came from."""

    id: str
    collection: str
    title: str
    source: str | None
    url: str | None
    published: str | None
    author: str | None
    content_hash: str
    paragraph_count: int
    added_at: str
    added_by: str | None = None


@dataclass(frozen=True)
class Sentence:
    """A sentence as a span of its paragraph, with who says it (if anyone)."""

    start: int
    end: int
    speaker: str | None = None


@dataclass(frozen=True)
class Passage:
    """A paragraph: the unit citebot retrieves and cites."""

    id: int
    article: Article
    number: int  # 1-based, as in the cleaned article
    text: str
    sentences: tuple[Sentence, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A window of a paragraph, as embedded: ``text`` includes its context."""

    paragraph: int  # index into the article's paragraphs, 0-based
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class PreparedParagraph:
    """A cleaned paragraph with its sentences."""

    text: str
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True)
class PreparedArticle:
    """An article ready to store: cleaned, split, attributed and chunked, not yet embedded."""

    title: str
    url: str | None
    canonical_url: str | None
    source: str | None
    published: str | None
    author: str | None
    content_hash: str
    paragraphs: tuple[PreparedParagraph, ...]
    chunks: tuple[Chunk, ...]
    dropped: tuple[str, ...] = field(default=())
