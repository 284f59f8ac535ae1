"""Sentence segmentation and embedding windows, as character spans of the stored paragraph.

Sentences come from pysbd, a rule-based segmenter that knows abbreviations ("U.S.", "Mr.",
"Jan."), initials and quotations. Its output is mapped back onto the paragraph as spans, so a
sentence is always ``paragraph[start:end]``: nothing is rewritten.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import pysbd

Span = tuple[int, int]

# pysbd is pure Python and slows down more than linearly on long inputs (abbreviations:
# "U.S. U.S. ..."); longer paragraphs are cut into pieces of at most this size first.
_MAX_SEGMENT_CHARS = 2_000
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s+")
_LINE_BREAK = re.compile(r"\n\s*")
_SPACE = re.compile(r"\s+")
# Longer runs without whitespace are cut by length when they exceed the model input.
_MAX_WORD_CHARS = 100
_local = threading.local()


def _segmenter() -> pysbd.Segmenter:
    seg = getattr(_local, "segmenter", None)
    if seg is None:
        seg = pysbd.Segmenter(language="en", clean=False)
        _local.segmenter = seg
    return seg


def sentence_spans(paragraph: str) -> list[Span]:
    """The sentences of a paragraph as (start, end) spans, in order, without surrounding space."""
    spans: list[Span] = []
    for piece_start, piece_end in _pieces(paragraph):
        spans.extend(_segment_piece(paragraph, piece_start, piece_end))
    return spans


def _pieces(text: str) -> list[Span]:
    """Cut text into pieces short enough for the segmenter, preferring sentence ends, then
    line breaks, then any whitespace, in the second half of each piece."""
    pieces: list[Span] = []
    start = 0
    while len(text) - start > _MAX_SEGMENT_CHARS:
        limit = start + _MAX_SEGMENT_CHARS
        floor = start + _MAX_SEGMENT_CHARS // 2
        cut = limit
        for boundary in (_SENTENCE_END, _LINE_BREAK, _SPACE):
            found = [m.end() for m in boundary.finditer(text, floor, limit)]
            if found:
                cut = found[-1]
                break
        pieces.append((start, cut))
        start = cut
    pieces.append((start, len(text)))
    return pieces


def _segment_piece(text: str, start: int, end: int) -> list[Span]:
    piece = text[start:end]
    if not piece.strip():
        return []
    spans: list[Span] = []
    cursor = 0
    try:
        # Not segment(): it maps each sentence back by searching the text from its start,
        # quadratic in repeated sentences ("1. 1. 1. ..."); the mapping below is linear.
        sentences = _segmenter().processor(piece).process()
    except Exception:  # pysbd can raise on pathological input; fall back to one sentence
        sentences = [piece]
    for sentence in sentences:
        needle = sentence.strip()
        if not needle:
            continue
        found = piece.find(needle, cursor)
        if found < 0:  # the segmenter altered the text: keep the rest as one sentence
            break
        spans.append((start + found, start + found + len(needle)))
        cursor = found + len(needle)
    rest = piece[cursor:]
    if rest.strip():
        lead = len(rest) - len(rest.lstrip())
        spans.append((start + cursor + lead, start + cursor + len(rest.rstrip())))
    return _merge_fragments(text, spans)


_CLOSER = re.compile(r"^[\"'”’)\]]+$")


def _merge_fragments(text: str, spans: list[Span]) -> list[Span]:
    """Join spans that are only closing quotes or brackets onto the sentence before."""
    merged: list[Span] = []
    for span in spans:
        if merged and _CLOSER.match(text[span[0] : span[1]]):
            merged[-1] = (merged[-1][0], span[1])
        else:
            merged.append(span)
    return merged


def windows(
    text: str, spans: list[Span], count_tokens: Callable[[str], int], max_tokens: int
) -> list[Span]:
    """Group sentences into windows that fit the model's input, one sentence of overlap.

    A paragraph that fits is one window. A single sentence longer than the limit is cut into
    pieces at whitespace, so that nothing is silently truncated.
    """
    if not spans or count_tokens(text) <= max_tokens:
        return [(0, len(text))] if text.strip() else []
    units: list[Span] = []
    for s, e in spans:
        if count_tokens(text[s:e]) <= max_tokens:
            units.append((s, e))
        else:
            units.extend(_cut_long(text, s, e, count_tokens, max_tokens))
    out: list[Span] = []
    i = 0
    while i < len(units):
        j = i + 1
        while j < len(units) and count_tokens(text[units[i][0] : units[j][1]]) <= max_tokens:
            j += 1
        out.append((units[i][0], units[j - 1][1]))
        if j >= len(units):
            break
        i = j - 1 if j - 1 > i else j
    return out


def _cut_long(
    text: str, start: int, end: int, count_tokens: Callable[[str], int], max_tokens: int
) -> list[Span]:
    """Cut one over-long sentence at whitespace into pieces that fit (a giant word by length)."""
    words: list[Span] = []
    for m in re.finditer(r"\S+", text[start:end]):
        s, e = start + m.start(), start + m.end()
        words.extend((k, min(k + _MAX_WORD_CHARS, e)) for k in range(s, e, _MAX_WORD_CHARS))

    def fits(i: int, j: int) -> bool:
        return count_tokens(text[words[i][0] : words[j - 1][1]]) <= max_tokens

    pieces: list[Span] = []
    i = 0
    while i < len(words):
        # the largest j with words[i:j] fitting lies in [lo, hi]; every word is at least one
        # token, so no piece holds more than max_tokens words (bounds each probe's length)
        lo, hi = i + 1, min(len(words), i + max_tokens)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(i, mid):
                lo = mid
            else:
                hi = mid - 1
        pieces.append((words[i][0], words[lo - 1][1]))
        i = lo
    return pieces
