from __future__ import annotations

import itertools

from index.ingest.segment import sentence_spans, windows


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_abbreviations_initials_and_quotes() -> None:
    text = ('Mr. Smith flew to Washington, D.C., on Jan. 5 with the U.S. delegation. '
            '"We made progress," he said. "Not enough." Talks resume in the U.K. next week.')
    assert sentences(text) == [
        "Mr. Smith flew to Washington, D.C., on Jan. 5 with the U.S. delegation.",
        '"We made progress," he said.',
        '"Not enough."',
        "Talks resume in the U.K. next week.",
    ]


def test_spans_are_exact_slices_even_with_odd_spacing() -> None:
    text = "  First one.   Second\tone!  Third?  "
    for start, end in sentence_spans(text):
        piece = text[start:end]
        assert piece == piece.strip() and piece
    assert sentences(text) == ["First one.", "Second\tone!", "Third?"]


def test_no_punctuation_is_one_sentence() -> None:
    assert sentences("no punctuation at all here") == ["no punctuation at all here"]


def count(text: str) -> int:
    return len(text.split())


def test_windows_cover_every_sentence_within_the_limit() -> None:
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(20))
    spans = sentence_spans(text)
    wins = windows(text, spans, count, 20)
    assert len(wins) > 1
    assert all(count(text[s:e]) <= 20 for s, e in wins)
    covered = set()
    for s, e in wins:
        covered |= {i for i, (a, b) in enumerate(spans) if a >= s and b <= e}
    assert covered == set(range(len(spans)))
    for (_, end), (start, _) in itertools.pairwise(wins):
        assert start < end  # one sentence of overlap between neighbouring windows


def test_a_giant_sentence_is_cut_not_truncated() -> None:
    text = " ".join(["word"] * 500)
    wins = windows(text, sentence_spans(text), count, 64)
    assert all(count(text[s:e]) <= 64 for s, e in wins)
    assert sum(count(text[s:e]) for s, e in wins) == 500


def test_short_paragraph_is_one_window() -> None:
    assert windows("Short one.", [(0, 10)], count, 64) == [(0, 10)]


def test_a_closing_quote_stays_with_its_sentence() -> None:
    text = 'Talks resume Monday. It was, he said, "a good day.\u201d'
    assert sentences(text) == ["Talks resume Monday.", 'It was, he said, "a good day.\u201d']
