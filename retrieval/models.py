"""What an answer is made of."""

from __future__ import annotations

from collections.abc import Mapping
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
class Prior:
    """What a conversation carries into its next answer: bonuses for the articles and
    paragraphs it cited (a prior, never a filter) and the quotes not to show again."""

    articles: Mapping[str, float] = field(default_factory=dict)  # article id -> bonus
    paragraphs: Mapping[tuple[str, int], float] = field(default_factory=dict)  # (id, number)
    exclude: frozenset[tuple[str, int, int]] = frozenset()  # (article id, paragraph, start)

    def bonus(self, passage: Passage) -> float:
        """What the conversation adds to a passage's score."""
        article = passage.article.id
        return (self.articles.get(article, 0.0)
                + self.paragraphs.get((article, passage.number), 0.0))

    def excludes(self, passage: Passage, start: int) -> bool:
        """Whether the sentence starting at ``start`` was shown already (and is left out)."""
        return (passage.article.id, passage.number, start) in self.exclude


@dataclass(frozen=True)
class Claim:
    """One statement a language model wrote, verified against the quotes it cites (1-based
    numbers into ``Answer.quotes``)."""

    text: str
    refs: tuple[int, ...]

    def marked(self, mark: str = "[{}]") -> str:
        """The statement with its quote numbers before its closing punctuation."""
        body = self.text.rstrip(".!?;:, ")
        marks = "".join(mark.format(n) for n in self.refs)
        return f"{body} {marks}{self.text[len(body):].strip()}"


@dataclass(frozen=True)
class Written:
    """An answer written by a language model: its verified statements, and why any other
    statement it wrote was left out (docs/LLM.md)."""

    claims: tuple[Claim, ...]
    dropped: tuple[str, ...] = ()
    model: str = ""
    complete: bool = True  # False for a draft shown while the model is still writing

    @property
    def text(self) -> str:
        """The statements with [n] markers."""
        return " ".join(c.marked() for c in self.claims)

    @property
    def notice(self) -> str | None:
        """What the member is told about statements left out, if any were."""
        n = len(self.dropped)
        if not n:
            return None
        what = "statement" if n == 1 else "statements"
        verb = "was" if n == 1 else "were"
        return (f"{n} {what} the model wrote {verb} left out: citebot could not verify "
                f"{'its' if n == 1 else 'their'} quotes or citations, or would not show "
                f"{'it' if n == 1 else 'them'}.")


@dataclass(frozen=True)
class Writing:
    """What became of asking a language model to write an answer: ``written``, ``partly
    written`` (statements left out, the member told) or ``fell back`` (the quotes-only answer),
    why it fell back, and the model's text as it came (for an operator only: never shown to a
    member nor put in the JSON)."""

    outcome: str
    reason: str | None = None
    raw: str = ""


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
    read_as: str | None = None  # a follow-up as it was answered, when that differs from it
    written: Written | None = None  # the model's prose over ``quotes``, when one wrote it
    writing: Writing | None = field(default=None, compare=False)  # when a model was asked
    note: str | None = None  # said under the quotes ("The article gives no time for this; ...")

    @property
    def text(self) -> str:
        """The answer as text with [n] citation markers."""
        if not self.found:
            return "The indexed articles do not answer this question."
        if self.written is not None:
            return self.written.text
        return " ".join(f"\u201c{q.text}\u201d [{i}]" for i, q in enumerate(self.quotes, 1))

    def to_json(self) -> dict[str, object]:
        """The documented JSON shape (question, found, answer, quotes, passages)."""
        shown: dict[str, object] = {
            "question": self.question,
            "found": self.found,
            "answer": self.text,
            "relevance": round(self.relevance, 4),
            "speaker_asked": self.speaker,
            "read_as": self.read_as,
            "note": self.note,
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
        if self.writing is not None:
            shown["writing"] = {"outcome": self.writing.outcome, "reason": self.writing.reason}
        if self.written is not None:
            shown["written"] = {
                "model": self.written.model,
                "claims": [{"text": c.text, "quotes": list(c.refs)}
                           for c in self.written.claims],
                "dropped": list(self.written.dropped),
                "notice": self.written.notice,
            }
        return shown
