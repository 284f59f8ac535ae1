"""Questions generated from the tune side's articles, for training the reader: templates over
what citebot already extracts (who said what, numbers, dates, names, "called", causes,
who did what), each labelled with the sentence it was made from.

    .venv/bin/python benchmarks/reader_questions.py QUESTIONS.jsonl --data-dir DIR --out OUT.jsonl
        [--per-article 8] [--seed 13]

DIR is the directory ``benchmarks/reader_data.py`` indexed the same file into; only articles
of the tune side are read. Each generated question is then asked through citebot's own
retrieval, so that its candidates (and their hard negatives) are what the reader will meet;
the output has the shape of ``reader_data.py``'s.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from reader_data import candidates  # noqa: E402

from config.settings import Settings  # noqa: E402
from index.ingest.prepare import prepare  # noqa: E402
from index.text import content_words  # noqa: E402
from retrieval.evaluation.evaluate import COLLECTION, open_remembering  # noqa: E402
from retrieval.evaluation.scoring import articles_of, holds_answer, load_questions  # noqa: E402
from retrieval.evaluation.splits import article_sides  # noqa: E402
from retrieval.rarity import rarity  # noqa: E402

_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|"
          r"December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)")
_DATE = re.compile(rf"\b(?:(?:on|in|since|by|until) )?{_MONTH}\b(?: \d{{1,2}})?(?:, \d{{4}})?"
                   r"|\b(?:in|since|by) (?:1[89]|20)\d\d\b")
_NUMBER = re.compile(r"(\$?\d[\d,.]*(?: (?:million|billion|trillion))?%?)(?: (percent|"
                     r"[a-z]{3,}))?")
_CALLED = re.compile(r"\b(?:the |a |an |its |their )?((?:[a-z]+ ){0,2}[a-z]+),? (?:is |was |"
                     r"are |were )?(?:called|named|nicknamed|dubbed|known as) [\"“']?"
                     r"([A-Z][\w'-]*(?: [A-Z][\w'-]*)*)")
_WHY = re.compile(r"^(.{12,}?),? (?:because|due to|as a result of|in order to|so that) ", re.I)
_WHO = re.compile(r"^((?:[A-Z][\w.'-]+ ){1,3})((?:[a-z]+ly )?[a-z]+ed) (.{8,})$")
_SKIP_FIRST = {"The", "A", "An", "This", "That", "It", "He", "She", "They", "We", "In", "On",
               "But", "And", "When", "After", "Before", "At", "For", "As", "If"}


def topic(sentence: str, leave_out: str = "", k: int = 3) -> str:
    """The ``k`` rarest content words of a sentence, in their order there."""
    out = set(content_words(leave_out))
    words = [w for w in content_words(sentence) if w not in out and not w.isdigit()]
    rare = sorted(words, key=rarity, reverse=True)[:k]
    return " ".join(w for w in words if w in rare)


def generate(sentence: str, speaker: str | None, title: str) -> Iterator[tuple[str, str]]:
    """(kind, question) pairs that this sentence answers."""
    body = sentence.strip().rstrip(".!?\"”'")
    if speaker and len(body.split()) >= 6:
        last = speaker.split()[-1]
        subject = topic(body, speaker)
        if subject:
            yield "said", f"What did {last} say about {subject}?"
    if m := _CALLED.search(body):
        yield "called", f"What is the {m.group(1)} called?"
    if (m := _WHY.match(body)) and len(m.group(1).split()) >= 3:
        yield "why", f"Why {topic(m.group(1), k=4)}?"
    if m := _DATE.search(body):
        rest = topic(body.replace(m.group(0), " "), k=4)
        if rest:
            yield "when", f"When {rest}?"
    if (m := _WHO.match(body)) and m.group(1).split()[0] not in _SKIP_FIRST:
        yield "who", f"Who {m.group(2)} {' '.join(m.group(3).split()[:10])}?"
    for m in _NUMBER.finditer(body):
        if not any(ch.isdigit() for ch in m.group(1)) or re.fullmatch(r"(1[89]|20)\d\d",
                                                                      m.group(1)):
            continue
        unit, rest = m.group(2), topic(body.replace(m.group(0), " "), k=3)
        if m.group(1).startswith("$"):
            yield "number", f"How much {rest}?"
        elif m.group(1).endswith("%") or unit == "percent":
            yield "number", f"What percentage {rest}?"
        elif unit:
            yield "number", f"How many {unit} {rest}?"
        break


_PHRASE = re.compile(r"(?<=[\s(“\"'])[A-Z][\w'’&.-]*(?:\s+(?:of\s+|de\s+|the\s+)?[A-Z][\w'’&.-]*)"
                     r"{0,3}")
_CALENDAR = re.compile(rf"^{_MONTH}$|^(?:Mr|Mrs|Ms|Dr|The|A|An|He|She|It|They|We|I)\.?$")
_YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")
_WINDOW = 7  # words kept on each side of the answer


def cloze(sentence: str, lead: str, title: str, rng: random.Random,
          ) -> Iterator[tuple[str, str, str]]:
    """(kind, question, answer) pairs asked as news quizzes ask: the sentence's words around
    an answer (a name, a number, a year) with a question word in its place, often after the
    article's lead or title as context ("Federer announced this week he will retire. Which
    ...?"). So the question shares words with the lead as well as with the sentence that
    answers, and the reader must find the sentence that holds what is asked for, not the one
    that repeats the question."""
    body = sentence.strip().rstrip(".!?\"”'")
    spans: list[tuple[int, int, str]] = []
    for m in _PHRASE.finditer(body):
        if not _CALENDAR.match(m.group(0)) and len(m.group(0)) > 2:
            spans.append((m.start(), m.end(), "what"))
    for m in _NUMBER.finditer(body):
        if any(ch.isdigit() for ch in m.group(1)):
            word = ("what year" if _YEAR.fullmatch(m.group(1)) else "how much"
                    if m.group(1).startswith("$") else "what percentage"
                    if m.group(1).endswith("%") or m.group(2) == "percent" else "how many")
            spans.append((m.start(1), m.end(1), word))
    if not spans:
        return
    start, end, word = rng.choice(spans)
    answer = body[start:end].strip(" ,;:")
    before, after = body[:start].split(), body[end:].split()
    if word == "how many" and after:  # "how many people", not "how many people people"
        word, after = f"how many {after[0]}", after[1:]
    question = " ".join([*before[-_WINDOW:], word, *after[:_WINDOW]]).strip(" ,;:")
    roll = rng.random()
    context = (lead if roll < 0.4 and lead != sentence else title if roll < 0.7 else "")
    context = " ".join(context.split()[:20]).rstrip(".!?:;,")
    text = f"{context}. {question[0].upper()}{question[1:]}?" if context else \
        f"{question[0].upper()}{question[1:]}?"
    if len(question.split()) >= 4 and not holds_answer(text, [answer]):
        yield "cloze", text, answer


def article_questions(row: dict, rng: random.Random, per_article: int, kinds: str = "templates",
                      ) -> list[tuple[str, str, str]]:
    """(kind, question, answer) for one article, at most ``per_article``: the answer is the
    source sentence for the templates, the words taken out of it for cloze questions."""
    prepared = prepare(title=row.get("doc_title") or row["doc_id"], text=row["doc_text"],
                       count_tokens=lambda t: len(t.split()), max_tokens=256)
    made = []
    lead = ""
    for p in prepared.paragraphs:
        for s in p.sentences:
            text = p.text[s.start:s.end]
            lead = lead or text
            if kinds == "cloze":
                made.extend(cloze(text, lead, prepared.title, rng))
            else:
                made.extend((kind, q, text) for kind, q in generate(text, s.speaker,
                                                                      prepared.title))
    rng.shuffle(made)
    kept, seen = [], set()
    for kind, q, text in made:  # at most two of a kind, so that no template dominates
        if q not in seen and (kinds != "templates"
                              or sum(k == kind for k, _, _ in kept) < max(2, per_article // 4)):
            kept.append((kind, q, text))
            seen.add(q)
        if len(kept) >= per_article:
            break
    return kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-article", type=int, default=8)
    parser.add_argument("--passages", type=int, default=8)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--kinds", choices=("templates", "cloze"), default="templates",
                        help="templates over the sentence's own words, or cloze questions "
                             "(an answer taken out, the lead or title as context)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows, _ = load_questions(args.file)
    sides, docs = article_sides(rows), articles_of(rows)
    core = open_remembering(Settings(data_dir=args.data_dir))
    kinds: dict[str, int] = {}
    try:
        with open(args.out, "w", encoding="utf-8") as fh:
            for doc_id, row in docs.items():
                if sides[doc_id] != "tune":
                    continue
                for n, (kind, q, text) in enumerate(article_questions(
                        row, rng, args.per_article, args.kinds)):
                    asked = {"question": q, "doc_id": doc_id, "answers": [text],
                             "question_date": None}
                    cands = candidates(core, COLLECTION, asked, args.passages)
                    for c in cands:
                        c["label"] = int(c["article"] == doc_id and (
                            holds_answer(c["text"], [text]) if args.kinds != "templates"
                            else c["text"] == text))
                    if any(c["label"] for c in cands):
                        kinds[kind] = kinds.get(kind, 0) + 1
                        fh.write(json.dumps({"set": f"{args.file.stem}-generated",
                                             "id": f"{doc_id}-g{n}", "kind": kind, **asked,
                                             "candidates": cands}) + "\n")
    finally:
        core.close()
    print(f"{sum(kinds.values())} generated questions written to {args.out}: {kinds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
