"""Build chains of follow-up questions from a question file of the evaluation format, by rules.

    .venv/bin/python benchmarks/followup_chains.py ../shared/eval/xquad_en.jsonl \
        --output ../xquad.chains.jsonl
    .venv/bin/citebot eval ../xquad.chains.jsonl

The output holds article text, so write it outside the repository. It is deterministic: the
same input gives the same chains. How a chain is made:

1. Questions about the same article are taken in file order, four at a time (the last chain
   of an article may be shorter, never under 2), so a chain may stay in one paragraph or
   move on to the next; it is kept when at least one of its later turns became a follow-up.
2. A later question becomes a follow-up when it names something an earlier question of the
   chain named, or an earlier turn's answer: that name is replaced by a pronoun, as a person
   would ask it ("How many sacks did Kawann Short have?" after "Who led the Panthers in
   sacks?" -> "How many sacks did he have?"). The pronoun follows simple rules: possessive
   before 's; "they" for "the <plural>"; "he"/"she" for a name of two or more words (by the
   pronouns around its first mention in the article); "it" otherwise; object forms after a
   verb or a preposition; none after "a", "the", "his", "which" or a title. A question with
   no such name stays as it is (rule "as-is"): people ask whole questions in a thread too.
3. With ``--headlines`` (for news sets, which ask one question per article), an article with
   a single question also gives a chain of two: "What happened: <headline>?" (not scored: it
   has no answer of its own), then the question with a name of the headline replaced by a
   pronoun ("Liz Truss resigned after how many days?" -> "She resigned after how many
   days?").
4. A chain is in the tuning split or the held-out split by a hash of its article's id (half
   each): tune ranking on "tune" only, and report "held-out".

The first turn is the question as written; later turns keep the original question beside
the rewritten one (``original``), so the evaluation can also ask it standalone (an upper
bound for what context can recover).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_TURNS = 4
_NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:of\s+|de\s+)?[A-Z0-9][\w'’.-]*)*")
_SKIP_FIRST = frozenset("What Who Whom Whose When Where Why How Which In On At The A An Did "
                        "Does Do Is Was Were Are During After Before For From By To Of".split())
_SUBJECT_BEFORE = frozenset("did does do was is were are has have had will would can could "
                            "should might may when while that and or but if because as".split())
_DETERMINERS = frozenset("a an any every each one his her their its my our your this that "
                         "these those than which what whose".split())
_NOT_FIRST = ("East|West|North|South|Eastern|Western|Northern|Southern|New|Old|Great|Upper|"
              "Lower|Central|Saint|St|The|In|Of|Nazi|Imperial|Soviet|Royal|National|Federal|"
              "Greater|Little|Holy|United|Super|Grand|Prime|Supreme|European|American|British")
_THINGS = frozenset(
    "Bowl Game Award Awards Championship League Cup Party Company University River Street "
    "House Council Committee Union Court State States Republic Kingdom Ocean Sea Park Church "
    "Museum Department Ministry Bank Festival Series War Act Prize Conference Association "
    "Institute College School Hospital Bridge Tower Center Centre Station Airport Square "
    "Island Islands Mountains Lake Valley Basin Forest Province County City Empire Dynasty "
    "Commission Parliament Treaty Agreement Convention Community Network Electric Light "
    "Manufacturing Engine Television Digital Channel Service System Airlines Group "
    "Corporation Foundation Society Army Navy Force Police Government Assembly Senate "
    "Congress Office Agency Bureau Authority Rights Reformation Bible Revolution Movement "
    "Trust Fund Project Program Programme Plan Address Globes Oscars Grammy Academy".split())
_TITLES = frozenset("president minister secretary senator governor mayor king queen prince "
                    "princess chancellor leader chairman ceo coach star singer actor actress "
                    "rapper director general".split())
_FUNCTION = frozenset("did does do was is were are has have had will would can could and or "
                      "but in on at to of for from with by as than that which who when where "
                      "while after before since during into about against between over "
                      "under versus win won".split())
_FEMALE = re.compile(r"\b(?:she|her|hers|herself)\b", re.I)
_MALE = re.compile(r"\b(?:he|him|his|himself)\b", re.I)

Row = dict[str, Any]


def names(question: str) -> list[str]:
    """Capitalised names in a question, longest first, question words left out."""
    found = []
    for match in _NAME.finditer(question):
        words = match.group(0).split()
        while words and words[0] in _SKIP_FIRST:
            words = words[1:]
        name = " ".join(words).rstrip(".'’")
        if len(name) >= 3:
            found.append(name)
    return sorted(set(found), key=lambda n: (-len(n), n))


def pronoun_for(name: str, question: str, start: int, article: str) -> tuple[str, int, int] | None:
    """(pronoun, start, end): the span of ``question`` to replace (the name, with a "the"
    before it and an 's after it) and the pronoun that replaces it; None where a pronoun
    would not read (after "a", "his", a title; "the Panthers defense" becomes "their
    defense")."""
    end = start + len(name)
    before = question[:start].rstrip().split()
    the = bool(before) and before[-1].lower() == "the"
    if the:
        start, before = question.rfind(before[-1], 0, start), before[:-1]
    previous = before[-1] if before else ""
    if (previous.lower() in _DETERMINERS or previous[-1:] in "\"“'‘&" or previous[:1] in "\"“'‘"
            or (previous.islower() and previous in _TITLES)
            or question[end:].lstrip().startswith("&")):
        return None
    forms = _forms(name, article, the)
    owner = re.match(r"['’]s\b|['’](?=\s)", question[end:])
    if owner is not None:
        return forms[2], start, end + owner.end()
    if not previous or previous.lower() in _SUBJECT_BEFORE or previous.endswith(","):
        return forms[0], start, end
    after = question[end:].split(maxsplit=1)
    next_word = after[0].strip("?.!,;:") if after else ""
    if next_word.isalpha() and next_word.islower() and next_word not in _FUNCTION:
        return forms[2], start, end  # "the Panthers defense" -> "their defense"
    return forms[1], start, end


def _forms(name: str, article: str, the: bool) -> tuple[str, str, str]:
    """Subject, object and possessive pronouns for a name: "they" for plurals, "he"/"she"
    for people, "it" for the rest. A person is a name of capitalised words whose last word
    the article also uses alone (a surname), or one word the article uses after a first
    name ("Manning" after "Peyton Manning")."""
    words = name.split()
    if name.endswith("s") and not name.endswith("ss") and (the or len(words) == 1):
        return ("they", "them", "their")
    if not all(w[:1].isupper() and w.isalpha() for w in words):
        return ("it", "it", "its")
    at = article.find(name)
    after = article[at: at + 250] if at >= 0 else ""
    female, male = len(_FEMALE.findall(after)), len(_MALE.findall(after))
    last = re.escape(words[-1])
    if len(words) >= 2:
        person = not re.match(rf"(?:{_NOT_FIRST})\b", name) and not _THINGS & set(words)
    else:
        first = re.search(rf"\b(?!(?:{_NOT_FIRST})\b)[A-Z][a-z]+\s+{last}\b", article)
        person = female + male >= (1 if first else 2)
    if the or not person:
        return ("it", "it", "its")
    return ("she", "her", "her") if female > male else ("he", "him", "his")


def follow_up(question: str, said: str, article: str) -> tuple[str, str] | None:
    """The question with a name said earlier replaced by a pronoun, and the rule; or None."""
    for name in names(question):
        if name in said:
            made = pronoun_for(name, question, question.find(name), article)
            if made is None:
                continue
            pronoun, a, b = made
            text = question[:a] + pronoun + question[b:]
            return text[:1].upper() + text[1:], f"pronoun:{pronoun}"
    return None


def split_of(doc_id: str) -> str:
    return "tune" if hashlib.sha256(doc_id.encode()).digest()[0] % 2 == 0 else "held-out"


def chains(rows: list[Row]) -> Iterator[Row]:
    """Chains of 2 to MAX_TURNS turns from consecutive questions about one article, each
    with at least one turn made a follow-up."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row["doc_id"]].append(row)
    for doc_id, group in groups.items():
        for i in range(0, len(group) - 1, MAX_TURNS):
            window = group[i:i + MAX_TURNS]
            if len(window) < 2:
                continue
            chain = [_turn(window[0], window[0]["question"], "first")]
            said = window[0]["question"] + " " + " ".join(window[0]["answers"])
            for row in window[1:]:
                made = follow_up(row["question"], said, row["doc_text"])
                chain.append(_turn(row, *(made or (row["question"], "as-is"))))
                said += " " + row["question"] + " " + " ".join(row["answers"])
            if any(t["rule"].startswith("pronoun") for t in chain):
                yield {"kind": "chain", "id": f"chain-{chain[0]['id']}", "doc_id": doc_id,
                       "split": split_of(doc_id), "turns": chain}


def headline_chains(rows: list[Row]) -> Iterator[Row]:
    """For articles with a single question (most news sets): a member first asks what the
    headline is about, then the question, made a follow-up of the headline (unscored: it has
    no answer of its own; the follow-up is scored)."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row["doc_id"]].append(row)
    for doc_id, group in groups.items():
        row = group[0]
        title = " ".join(str(row.get("doc_title") or "").split())
        made = follow_up(row["question"], title, row["doc_text"]) if len(group) == 1 else None
        if not title or made is None:
            continue
        first = {"id": f"{row['id']}-headline", "question": f"What happened: {title}?",
                 "original": f"What happened: {title}?", "answers": [], "rule": "headline"}
        if row.get("question_date"):
            first["question_date"] = row["question_date"]
        yield {"kind": "chain", "id": f"chain-{row['id']}-headline", "doc_id": doc_id,
               "split": split_of(doc_id), "turns": [first, _turn(row, *made)]}


def _turn(row: Row, question: str, rule: str) -> Row:
    turn = {"id": row["id"], "question": question, "original": row["question"],
            "answers": row["answers"], "rule": rule}
    if row.get("question_date"):
        turn["question_date"] = row["question_date"]
    return turn


def articles(rows: list[Row]) -> Iterator[Row]:
    seen: set[str] = set()
    for r in rows:
        if r["doc_id"] not in seen:
            seen.add(r["doc_id"])
            yield {"kind": "article", "doc_id": r["doc_id"], "doc_title": r.get("doc_title"),
                   "doc_text": r["doc_text"], "doc_url": r.get("doc_url"),
                   "doc_publish_date": r.get("doc_publish_date")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path, help="a question file (docs/EVALUATION.md)")
    parser.add_argument("--output", type=Path, required=True,
                        help="where to write the chains (outside the repository)")
    parser.add_argument("--headlines", action="store_true",
                        help="also chain each single-question article's headline to its "
                        "question (for news sets, which ask once per article)")
    args = parser.parse_args()
    with open(args.file, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    rows = [r for r in rows if r.get("answer_in_doc") is not False]
    made = list(chains(rows)) + (list(headline_chains(rows)) if args.headlines else [])
    with open(args.output, "w", encoding="utf-8") as out:
        for item in [*articles(rows), *made]:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    turns = sum(len(c["turns"]) for c in made)
    by_split = {s: sum(c["split"] == s for c in made) for s in ("tune", "held-out")}
    print(f"{len(made)} chains ({by_split['tune']} tune, {by_split['held-out']} held-out), "
          f"{turns} turns, from {args.file.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
