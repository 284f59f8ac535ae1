"""What an answer is made of."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from index.models import Passage


@dataclass(frozen=True)
class Citation:
    """Where a quote comes from."""

    article_id: str
    title: str
    source: str | None
    url: str | None
    published: str | None
    paragraph: int


@dataclass(frozen=True)
class Quote:
    """A verbatim span of a stored paragraph: ``passage.text[start:end] == text``."""

    text: str
    citation: Citation
    start: int
    end: int
    speaker: str | None
    score: float


@dataclass(frozen=True)
class RankedPassage:
    """A retrieved paragraph and its fused relevance."""

    passage: Passage
    score: float
    dense: float
    lexical: float


@dataclass(frozen=True)
class Answer:
    """Quotes that answer a question, or none, with the passages retrieval ranked."""

    question: str
    found: bool
    quotes: tuple[Quote, ...]
    passages: tuple[RankedPassage, ...]
    speaker: str | None = None  # whose words the question asks for, if anyone's
    relevance: float = 0.0  # compared with the calibrated threshold to decide ``found``
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def text(self) -> str:
        """The answer as text with [n] citation markers."""
        if not self.found:
            return "The indexed articles do not answer this question."
        return " ".join(f"\u201c{q.text}\u201d [{i}]" for i, q in enumerate(self.quotes, 1))

    def to_json(self) -> dict[str, object]:
        """The documented JSON shape (question, found, answer, quotes, passages)."""
        return {
            "question": self.question,
            "found": self.found,
            "answer": self.text,
            "relevance": round(self.relevance, 4),
            "speaker_asked": self.speaker,
            "quotes": [
                {"text": q.text, **asdict(q.citation), "speaker": q.speaker,
                 "score": round(q.score, 4), "start": q.start, "end": q.end}
                for q in self.quotes
            ],
            "passages": [
                {"article_id": r.passage.article.id, "title": r.passage.article.title,
                 "paragraph": r.passage.number, "text": r.passage.text,
                 "score": round(r.score, 4)}
                for r in self.passages
            ],
        }
