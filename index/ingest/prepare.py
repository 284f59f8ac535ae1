"""From raw text to a PreparedArticle: clean, split, attribute speakers, cut embedding windows.

Pure functions; nothing here touches storage or the model beyond counting tokens.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from index.errors import ExtractionError, TooLargeError
from index.ingest.clean import clean_paragraphs
from index.ingest.segment import sentence_spans, windows
from index.ingest.speakers import attribute, last_named_speaker
from index.models import Chunk, PreparedArticle, PreparedParagraph, Sentence
from index.text import fold, replace_lone_surrogates, split_paragraphs

TITLE_MAX = 300  # characters; a title is repeated in every embedded window of its article
FIELD_MAX = {"url": 2_048, "source": 200, "author": 200, "published": 64}
_WORD = re.compile(r"\S+")
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref|cmpid|ocid|smid)$", re.I)


def storable(text: str) -> str:
    """Text every backend stores as given: lone surrogates (which no tokenizer or database
    accepts) become U+FFFD, and NUL characters (which PostgreSQL refuses, and which carry no
    meaning in an article) are removed, so both backends store the same text."""
    return replace_lone_surrogates(text).replace("\x00", "")


def canonical_url(url: str | None) -> str | None:
    """The URL an article is known by: lower-case host, no fragment, no tracking parameters."""
    url = storable(url or "").strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[", a host with characters that NFKC would change
        return url
    if not parts.scheme or not parts.netloc:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)  # "?12345" names an article too
    query = urlencode([(k, v) for k, v in pairs if not _TRACKING.match(k)])
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


@dataclass(frozen=True)
class ArticleLimits:
    """How much work one article may cost: bytes are not enough (40,000 one-line paragraphs
    fit in 1 MB and take minutes to split and embed)."""

    max_paragraphs: int = 1_000
    max_words: int = 20_000
    # the model's tokens: prose has one or two a word, random letters three dozen (18,003
    # 60-letter words are 656,000 tokens: minutes of splitting and embedding)
    max_tokens: int = 60_000


_TOKEN_PIECE = 200  # words counted at once: a bounded cost per call, whatever the text


def count_article_tokens(paragraphs: list[str], count_tokens: Callable[[str], int],
                         limit: int) -> int:
    """The tokens the model reads in ``paragraphs``, counted in pieces of ``_TOKEN_PIECE``
    words and only until the count passes ``limit`` (so a huge article costs little)."""
    special = count_tokens("")  # the markers every call adds ([CLS], [SEP])
    total = 0
    for paragraph in paragraphs:
        words = paragraph.split()
        for i in range(0, len(words), _TOKEN_PIECE):
            total += count_tokens(" ".join(words[i:i + _TOKEN_PIECE])) - special
            if total > limit:
                return total
    return total


def clip(text: str, limit: int) -> str:
    """``text`` whitespace-folded and, when longer than ``limit`` characters, cut at a word
    boundary with an ellipsis."""
    text = " ".join(text[: limit * 4].split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def check_work(text: str, limits: ArticleLimits,
               count_tokens: Callable[[str], int] | None = None) -> list[str]:
    """The article's paragraphs, or TooLargeError when it is over a limit (checked before the
    costly steps: sentence splitting and embedding; tokens when ``count_tokens`` is given)."""
    words = sum(1 for _ in _WORD.finditer(text))
    if words > limits.max_words:
        raise TooLargeError(
            f"The article has {words:,} words, over the limit of {limits.max_words:,}; split "
            "it or raise CITEBOT_MAX_ARTICLE_WORDS.")
    paragraphs = split_paragraphs(text)
    if len(paragraphs) > limits.max_paragraphs:
        raise TooLargeError(
            f"The article has {len(paragraphs):,} paragraphs, over the limit of "
            f"{limits.max_paragraphs:,}; split it or raise CITEBOT_MAX_ARTICLE_PARAGRAPHS.")
    if count_tokens is not None and count_article_tokens(
            paragraphs, count_tokens, limits.max_tokens) > limits.max_tokens:
        raise TooLargeError(
            f"The article has more than {limits.max_tokens:,} tokens (the pieces the embedding "
            "model reads: ordinary prose has one or two a word), over the limit; split it or "
            "raise CITEBOT_MAX_ARTICLE_TOKENS.")
    return paragraphs


def content_hash(paragraphs: tuple[str, ...] | list[str]) -> str:
    """A hash of the cleaned text, insensitive to case, punctuation and spacing."""
    joined = "\n".join(fold(p) for p in paragraphs)
    return hashlib.sha256(joined.encode()).hexdigest()


def article_id_for(url: str | None, digest: str) -> str:
    """A short stable id: from the canonical URL when there is one, else from the content."""
    basis = canonical_url(url) or digest
    return hashlib.sha256(basis.encode()).hexdigest()[:12]


def embedding_text(title: str, window: str) -> str:
    """What a window is embedded as: the article's title, then the window itself."""
    return f"{title}\n\n{window}" if title else window


def prepare(
    *,
    title: str,
    text: str,
    count_tokens: Callable[[str], int],
    max_tokens: int,
    url: str | None = None,
    source: str | None = None,
    published: str | None = None,
    author: str | None = None,
    limits: ArticleLimits | None = None,
) -> PreparedArticle:
    """Clean and split an article and cut its embedding windows.

    Lone surrogates become U+FFFD and NUL characters are removed first (``storable``), in the
    text and in every field; the title and the other fields are clipped to their limits. Raises
    TooLargeError when the article is over ``limits`` and ExtractionError when nothing of it
    is left after cleaning.
    """
    text = storable(text)
    source, published, author = (
        None if v is None else clip(storable(v), FIELD_MAX[k]) or None
        for k, v in (("source", source), ("published", published), ("author", author)))
    if url is not None and len(url) > FIELD_MAX["url"]:
        url = None  # a clipped address would point elsewhere; the article keeps no link
    url = None if url is None else storable(url)
    title = clip(storable(title), TITLE_MAX) or "Untitled"
    cleaned = clean_paragraphs(title, check_work(text, limits or ArticleLimits(), count_tokens))
    if not cleaned.paragraphs:  # no title in the message: it may be anything at all
        raise ExtractionError("The article has no text left after cleaning (only a title, "
                              "boilerplate or duplicates).")
    prepared = _attribute(list(cleaned.paragraphs))
    chunks = rechunk(title, [p.text for p in prepared], [p.sentences for p in prepared],
                     count_tokens, max_tokens)
    return PreparedArticle(
        title=title, url=url, canonical_url=canonical_url(url), source=source,
        published=published, author=author, content_hash=content_hash(cleaned.paragraphs),
        paragraphs=tuple(prepared), chunks=tuple(chunks),
        dropped=tuple(f"{d.reason}: {d.text[:80]}" for d in cleaned.dropped),
    )


def _attribute(texts: list[str]) -> list[PreparedParagraph]:
    out: list[PreparedParagraph] = []
    previous: str | None = None
    for text in texts:
        spans = sentence_spans(text) or [(0, len(text))]
        speakers = attribute([text[s:e] for s, e in spans], previous)
        previous = last_named_speaker(speakers, previous)
        sentences = tuple(Sentence(s, e, who) for (s, e), who in zip(spans, speakers, strict=True))
        out.append(PreparedParagraph(text, sentences))
    return out


def rechunk(
    title: str, texts: list[str], sentences: list[tuple[Sentence, ...]],
    count_tokens: Callable[[str], int], max_tokens: int,
) -> list[Chunk]:
    """Embedding windows for stored paragraphs (used by rebuild, possibly with a new model)."""
    prefix_tokens = count_tokens(embedding_text(title, "")) if title else 0
    budget = max(16, max_tokens - prefix_tokens)
    chunks: list[Chunk] = []
    for i, (text, sents) in enumerate(zip(texts, sentences, strict=True)):
        spans = [(s.start, s.end) for s in sents] or [(0, len(text))]
        for start, end in windows(text, spans, count_tokens, budget):
            chunks.append(Chunk(i, start, end, embedding_text(title, text[start:end])))
    return chunks
