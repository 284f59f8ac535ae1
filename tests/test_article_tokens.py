"""The work of one article is bounded by the tokens the embedding model reads, not only by its
words: 18,003 random 60-letter words (1.1 MB, under the byte and word limits) are 656,000
tokens and took 337 s to add, where an ordinary article of as many words takes 14.5 s."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest

from index.ingest.prepare import ArticleLimits, count_article_tokens
from tests.conftest import Cli

SENTENCE = "The harbour ferry strike ended on Monday after nine days, the union said."


def gibberish(words: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    return " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(60))
                    for _ in range(words))


def test_an_article_over_its_tokens_is_refused_naming_the_setting(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEBOT_MAX_ARTICLE_TOKENS", "5000")
    odd = tmp_path / "odd.txt"
    odd.write_text("Odd words\n\n" + gibberish(400))  # 400 words, about 14,500 tokens
    code, _, err = cli("add", str(odd))
    assert code == 1 and "tokens" in err and "CITEBOT_MAX_ARTICLE_TOKENS" in err, err
    assert err.count("\n") == 1  # one sentence
    ordinary = tmp_path / "ordinary.txt"  # as many words of prose: under the bound
    ordinary.write_text("Ferry news\n\n" + "\n\n".join([SENTENCE] * 30))
    code, out, err = cli("add", str(ordinary))
    assert code == 0 and "added" in out, err
    lines = tmp_path / "in.jsonl"
    lines.write_text(json.dumps({"title": "Odd", "text": gibberish(400, seed=2)}) + "\n")
    code, out, err = cli("add", "--jsonl", str(lines))
    assert code == 1 and "CITEBOT_MAX_ARTICLE_TOKENS" in err and "0 added" in out, err


def test_counting_stops_once_over_the_bound() -> None:
    """The count costs at most the bound's worth of tokenizing, whatever the article's size."""
    seen: list[str] = []

    def count(text: str) -> int:
        seen.append(text)
        return len(text.split()) * 36 + 2

    paragraphs = [gibberish(5_000)] * 4
    assert count_article_tokens(paragraphs, count, 10_000) > 10_000
    assert sum(len(t.split()) for t in seen) < 1_000
    assert count_article_tokens([SENTENCE] * 3, lambda t: len(t.split()) + 2, 10_000) == 39
    assert ArticleLimits().max_tokens >= 3 * ArticleLimits().max_words  # a long read fits

