"""How the support check (`retrieval.written.support`, through `claims.check` as every
statement of a written answer goes) does on statements made from question sets' tune sides.

For each question, the sentence of its article holding the answer is the cited sentence, and
statements are made from it: some it supports (the sentence itself, attributed, cut to its
first clause, an inflection changed, the question answered in its own words), some it does
not (a number, a name or a date swapped, a negation added or taken out, a sentence borrowed
from another article). It prints how many of each are kept and dropped.

    .venv/bin/python benchmarks/support.py DATA/realtimeqa_public.jsonl DATA/xquad_en.jsonl ...

Only the tune side of each file is read (`retrieval.evaluation.splits`); never the report side.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.models import Article, Passage, Sentence  # noqa: E402
from retrieval.evaluation.splits import select  # noqa: E402
from retrieval.written.claims import check, split_statements  # noqa: E402
from retrieval.written.prompt import Source  # noqa: E402
from retrieval.written.support import NEGATIONS, NUMBER_WORDS  # noqa: E402

_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"\u201c])")
_AUX = re.compile(r"\b(is|was|are|were|will|would|can|could|has|have|had|did|does|should)\b")
_NEG = re.compile(r"\s*\b(?:not|never|no longer)\b|n't", re.IGNORECASE)
_NUMBER = re.compile(r"\b\d[\d,]*(?:\.\d+)?\b")
_NAME = re.compile(r"(?<=\w )[A-Z][a-z]{2,}\b")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "June", "July", "August", "September",
          "October", "November", "December")
Make = Callable[[str, dict[str, Any], random.Random], str | None]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SPLIT.split(" ".join(text.split())) if 25 < len(s) < 400]


def answer_sentence(row: dict[str, Any]) -> str | None:
    answers = row.get("answers") or []
    if isinstance(answers, str):
        answers = [answers]
    for sentence in sentences(row.get("doc_text") or ""):
        if any(str(a) and str(a) in sentence for a in answers[:3]):
            return sentence
    return None


# -- statements the sentence supports ------------------------------------------------------

def same(s: str, row: dict[str, Any], rng: random.Random) -> str | None:
    return unquoted(s)


def unquoted(s: str) -> str:
    """The sentence's words without its quotation marks (apostrophes kept): a paraphrase,
    so that what is measured is the support check, not the check of quotations."""
    marks = r"``|''|[\"\u201c\u201d\u00ab\u00bb]|(?<!\w)['\u2018\u2019]|['\u2018\u2019](?!\w)"
    return re.sub(marks, "", s)


def attributed(s: str, row: dict[str, Any], rng: random.Random) -> str | None:
    return f"According to the article, {unquoted(s[0].lower() + s[1:])}"


def first_clause(s: str, row: dict[str, Any], rng: random.Random) -> str | None:
    clause = unquoted(s).split(", ")[0]
    return clause if clause != s and len(clause.split()) >= 5 else None


def inflected(s: str, row: dict[str, Any], rng: random.Random) -> str | None:
    for pattern, repl in ((r"\b([a-z]{3,})ed\b", r"\1ing"),
                          (r"(?<![\w'\u2019])([a-z]{3,}[^s\W])s\b", r"\1")):
        out, n = re.subn(pattern, repl, unquoted(s), count=1)
        if n:
            return out
    return None


def question_answered(s: str, row: dict[str, Any], rng: random.Random) -> str | None:
    answers = row.get("answers") or []
    answer = answers[0] if isinstance(answers, list) and answers else None
    if not answer or len(str(answer)) > 80:
        return None
    return unquoted(f"{row['question'].rstrip(' ?:')}: {answer}")


# -- statements it does not support --------------------------------------------------------

def number_swapped(s: str, row: dict[str, Any], rng: random.Random) -> str | None:
    found = [m for m in _NUMBER.finditer(s) if m[0].replace(",", "").isdigit()]
    if not found:
        return None
    m = rng.choice(found)
    value = int(m[0].replace(",", ""))
    return s[: m.start()] + str(value + rng.choice((1, 2, 3, 10))) + s[m.end():]


def name_swapped(s: str, row: dict[str, Any], rng: random.Random) -> str | None:
    names = [m for m in _NAME.finditer(s) if m[0].lower() not in NUMBER_WORDS]
    others = [n for n in row["other_names"] if n not in s]
    if not names or not others:
        return None
    m = rng.choice(names)
    return s[: m.start()] + rng.choice(others) + s[m.end():]


def date_swapped(s: str, row: dict[str, Any], rng: random.Random) -> str | None:
    for names in (WEEKDAYS, MONTHS):
        for name in names:
            if re.search(rf"\b{name}\b", s):
                other = rng.choice([n for n in names if n != name and n not in s])
                return re.sub(rf"\b{name}\b", other, s)
    return None


def negation_flipped(s: str, row: dict[str, Any], rng: random.Random) -> str | None:
    if any(w in NEGATIONS for w in s.lower().split()) or "n't" in s:
        out = _NEG.sub("", s, count=1)
        return out if out != s else None
    out = _AUX.sub(r"\1 not", s, count=1)
    return out if out != s else None


def borrowed(s: str, row: dict[str, Any], rng: random.Random) -> str | None:
    return str(row["other_sentence"])


SUPPORTED: dict[str, Make] = {
    "the sentence itself": same, "attributed": attributed, "its first clause": first_clause,
    "an inflection changed": inflected, "the question answered": question_answered}
UNSUPPORTED: dict[str, Make] = {
    "a number swapped": number_swapped, "a name swapped": name_swapped,
    "a date swapped": date_swapped, "a negation added or dropped": negation_flipped,
    "a sentence of another article": borrowed}


def kept(statement: str, sentence: str, question: str) -> bool:
    article = Article("a", "bench", "T", None, None, None, None, "h", 1, "2026-01-01")
    passage = Passage(1, article, 1, sentence, (Sentence(0, len(sentence)),))
    parsed = split_statements(f"{statement.rstrip('.')} [S1].", final=True)[0]
    return bool(parsed) and not isinstance(
        check(parsed[0], {"S1": Source("S1", passage, 0)}, question), str)


def rows_of(paths: list[Path], per_file: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    for path in paths:
        rows = select([json.loads(line) for line in path.open()], "tune")
        rng.shuffle(rows)
        picked = [(r, s) for r in rows if (s := answer_sentence(r))][:per_file]
        names = [m[0] for _, s in picked for m in _NAME.finditer(s)]
        for row, sentence in picked:
            other = rng.choice([s for r, s in picked if r["doc_id"] != row["doc_id"]])
            yield {**row, "sentence": sentence, "other_sentence": other,
                   "other_names": rng.sample(names, min(20, len(names)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="question sets (JSON lines)")
    parser.add_argument("--per-file", type=int, default=300, help="questions of each file")
    parser.add_argument("--seed", type=int, default=22)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    counts: Counter[tuple[str, str, bool]] = Counter()
    for row in rows_of(args.files, args.per_file, rng):
        for side, makers in (("supported", SUPPORTED), ("unsupported", UNSUPPORTED)):
            for name, make in makers.items():
                statement = make(row["sentence"], row, rng)
                if statement:
                    counts[side, name, kept(statement, row["sentence"], row["question"])] += 1
    for side, makers in (("supported", SUPPORTED), ("unsupported", UNSUPPORTED)):
        total = sum(v for (s, _, _), v in counts.items() if s == side)
        good = sum(v for (s, _, k), v in counts.items() if s == side and k == (side == "supported"))
        print(f"{side}: {total} statements, {good / max(total, 1):.1%} "
              f"{'kept' if side == 'supported' else 'dropped'}")
        for name in makers:
            n_kept, n_dropped = counts[side, name, True], counts[side, name, False]
            print(f"  {name}: {n_kept + n_dropped} made, {n_kept} kept, {n_dropped} dropped")


if __name__ == "__main__":
    main()
