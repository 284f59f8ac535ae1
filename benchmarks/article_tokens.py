"""The work of one article, bounded by the model's tokens: time to add an article of random
60-letter words and an ordinary one of as many words, in process, with the bundled model.

    .venv/bin/python benchmarks/article_tokens.py [--words 18003] [--lift]

``--lift`` raises CITEBOT_MAX_ARTICLE_TOKENS out of the way (the behaviour before the bound;
with 18,003 words that takes minutes). Prints each case's tokens, outcome, seconds and the
machine's load average, which the figure depends on.
"""

from __future__ import annotations

import argparse
import os
import random
import string
import tempfile
import time
from pathlib import Path

from config.settings import Settings
from index.errors import TooLargeError
from retrieval.core import Core

ROOT = Path(__file__).resolve().parents[1]


def gibberish(words: int, rng: random.Random) -> str:
    return " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(60))
                    for _ in range(words))


def prose(words: int, rng: random.Random) -> str:
    """Paragraphs of sentences made of the project's own documentation's words."""
    vocabulary = [w.strip(".,;:()`*|") for p in (ROOT / "docs").glob("*.md")
                  for w in p.read_text(encoding="utf-8").split() if w.isascii() and w.isalpha()]
    out, paragraph = [], []
    for i in range(words):
        paragraph.append(rng.choice(vocabulary) + ("." if i % 15 == 14 else ""))
        if i % 120 == 119:
            out.append(" ".join(paragraph))
            paragraph = []
    return "\n\n".join([*out, " ".join(paragraph)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=18_003)
    parser.add_argument("--lift", action="store_true", help="no token bound (as before)")
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as data:
        update = {"max_article_tokens": 10**9} if args.lift else {}
        settings = Settings(data_dir=Path(data), _env_file=None).model_copy(  # type: ignore[call-arg]
            update=update)
        with Core.open(settings) as core:
            for name, text in (("random 60-letter words", gibberish(args.words, rng)),
                               ("ordinary words", prose(args.words, rng))):
                tokens = core.embedder.count_tokens(text)
                start = time.perf_counter()
                try:
                    result = core.add_text("bench", title=name, text=text)
                    outcome = f"{result.status}, {result.article.paragraph_count} paragraphs"
                except TooLargeError as exc:
                    outcome = f"refused: {exc}"
                seconds = time.perf_counter() - start
                print(f"{name}: {args.words:,} words, {len(text):,} characters, {tokens:,} "
                      f"tokens: {outcome} in {seconds:.1f} s (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
