"""Grouping kept questions with the bundled model: paraphrases of one gap group, different
questions stay apart, the most asked come first; the pairs the threshold was chosen on
(docs/OPERATING.md, "Insights") fall on the documented side of it."""

from __future__ import annotations

import pytest

from index.encode.embed import Embedder
from index.store.values import KeptQuestion
from retrieval.insights import ALIKE, group
from tests.fakes import HashEmbedder

# (question, paraphrase): the same gap asked differently
ALIKE_PAIRS = [
    ("When does the new library open?", "what day is the library opening"),
    ("How much will the flood barrier cost?", "What is the price of the harbor flood barrier?"),
    ("What did the council decide about bike lanes?", "council decision on bike lanes?"),
    ("Why was the bridge delayed?", "what caused the delay of the bridge"),
    ("What did Ortiz say about the budget?", "ortiz comments on the budget"),
    ("How many people were evacuated?", "number of residents evacuated"),
    ("When is the next city council meeting?", "next council meeting date?"),
    ("Will bus fares go up?", "are bus fares increasing"),
    ("what did the police chief say about the shooting", "police chief statement on the shooting"),
    ("How many jobs will the factory create?", "number of jobs from the new factory"),
]
# questions that are different gaps, however alike their words
UNLIKE_PAIRS = [
    ("When does the new library open?", "How much will the flood barrier cost?"),
    ("What did Ortiz say about the budget?", "What did Hale say about the budget?"),
    ("Is the school closed tomorrow?", "Is the library closed tomorrow?"),
    ("Why was the bridge delayed?", "When did the bridge open?"),
    ("How many people were evacuated?", "How many people died in the storm?"),
    ("Will bus fares go up?", "Will parking fees go up?"),
    ("What did the council decide about bike lanes?",
     "What did the council decide about the harbor?"),
    ("When is the next city council meeting?", "Where is the farmers market this week?"),
    ("How many jobs will the factory create?", "Where will the factory be built?"),
    ("what did the police chief say about the shooting",
     "what did the fire chief say about the fire"),
    ("Who is the new school superintendent?", "How much will the flood barrier cost?"),
]


def kept(*questions: str, start: float = 1000.0) -> list[KeptQuestion]:
    return [KeptQuestion(q, "not_found", start + i) for i, q in enumerate(questions)]


@pytest.mark.parametrize(("a", "b"), ALIKE_PAIRS)
def test_paraphrases_group(real_embedder: Embedder, a: str, b: str) -> None:
    (gap,) = group(kept(a, b), real_embedder.embed)
    assert gap.count == 2 and gap.variants == 2


@pytest.mark.parametrize(("a", "b"), UNLIKE_PAIRS)
def test_different_questions_stay_apart(real_embedder: Embedder, a: str, b: str) -> None:
    assert len(group(kept(a, b), real_embedder.embed)) == 2


def test_gaps_are_most_asked_first_with_their_kinds_and_last_time(
        real_embedder: Embedder) -> None:
    questions = kept("Why was the bridge delayed?", "When will the pool reopen?",
                     "what caused the delay of the bridge", "why was the bridge delayed",
                     "Why was the bridge delayed?", "Who pays for the ferry?")
    questions.append(KeptQuestion("What delayed the bridge?", "voted_down", 2000.0))
    gaps = group(questions, real_embedder.embed)
    assert gaps[0].question == "Why was the bridge delayed?"  # the wording asked most
    assert (gaps[0].count, gaps[0].kinds, gaps[0].last_at) == (
        5, {"not_found": 4, "voted_down": 1}, 2000.0)
    assert gaps[0].variants == 3  # "why was the bridge delayed" is the same wording
    assert sorted(g.question for g in gaps[1:]) == [
        "When will the pool reopen?", "Who pays for the ferry?"]
    assert all(g.count == 1 for g in gaps[1:])


def test_the_same_wording_groups_whatever_the_model() -> None:
    """Case, spacing and the final question mark aside, one wording is one question."""
    gaps = group(kept("Who pays?", "Who pays?", "Who pays for the ferry?", "who  PAYS"),
                 HashEmbedder().embed, ALIKE)
    assert (gaps[0].question, gaps[0].count) == ("Who pays?", 3)  # as written most
