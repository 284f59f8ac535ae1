"""Ranking rules beyond the fusion: dates (as of a day, recency), short passages, answer types;
and ``citebot eval`` asking each question on its date."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest

from config.settings import Settings
from retrieval.core import Core
from retrieval.evaluation.evaluate import evaluate
from retrieval.features import published_date
from retrieval.question import analyse, answer_type_match
from tests.conftest import Cli
from tests.fakes import HashEmbedder

STORY = ("The harbour authority raised ferry fares to nine dollars on Monday, citing fuel costs.\n\n"
         "Commuters said the rise would hurt workers who cross twice a day.\n\n")


def add(core: Core, tag: str, published: str | None) -> str:
    result = core.indexer.add_text("news", title="Ferry fares rise", text=STORY + f"Desk {tag}.",
                                   published=published, url=f"https://news.example/{tag}")
    return result.article.id


@pytest.fixture
def core(settings: Settings) -> Core:
    return Core.open(settings, embedder=HashEmbedder())


def top_article(core: Core, **kw: object) -> str:
    answer = core.answerer.ask("news", "How much are ferry fares now?", **kw)  # type: ignore[arg-type]
    return answer.passages[0].passage.article.id


def test_as_of_leaves_out_articles_published_later(core: Core) -> None:
    old = add(core, "a", "2024-03-01")
    new = add(core, "b", "2024-06-01")
    answer = core.answerer.ask("news", "How much are ferry fares now?", as_of=date(2024, 4, 1))
    assert {p.passage.article.id for p in answer.passages} == {old}
    every = core.answerer.ask("news", "How much are ferry fares now?")
    assert {p.passage.article.id for p in every.passages} == {old, new}


@pytest.mark.parametrize("order", [("2024-03-01", "2024-06-01"), ("2024-06-01", "2024-03-01")])
def test_the_more_recent_of_two_equal_reports_comes_first(core: Core,
                                                          order: tuple[str, str]) -> None:
    first = add(core, "a", order[0])
    second = add(core, "b", order[1])
    newer = first if order[0] > order[1] else second
    assert top_article(core, as_of=date(2024, 6, 10)) == newer
    assert top_article(core) == newer  # as of today, too
    add(core, "c", None)  # an undated report neither wins nor is left out
    assert top_article(core, as_of=date(2024, 6, 10)) == newer


def test_passages_too_short_to_answer_lose_a_fixed_amount(core: Core) -> None:
    """A heading or link line that echoes the question rarely holds the answer (on realtimeqa
    it was the top passage of many misses); it loses ``short_penalty``, others nothing."""
    core.indexer.add_text("news", title="Council news", text=(
        "Ferry fares\n\nThe council set ferry fares at nine dollars from June, the transport "
        "chief said.\n\nOther business followed."))
    searcher = core.answerer.searcher
    question = "How much will ferry fares cost?"
    query = core.embedder.embed_query(question)

    def scores() -> dict[str, float]:
        found = searcher.search("news", analyse(question), query, 8)
        return {p.passage.text.split()[0]: p.score for p in found}

    searcher.short_penalty = 0.0
    before = scores()
    searcher.short_penalty = 0.12
    after = scores()
    assert after["Ferry"] == pytest.approx(before["Ferry"] - 0.12)
    assert after["The"] == pytest.approx(before["The"])


@pytest.mark.parametrize(("question", "sentence", "match"), [
    ("Which state declared an emergency over bird flu?", "Officials in California declared it.", 1.0),
    ("Which state declared an emergency over bird flu?", "An emergency was declared.", 0.0),
    ("What is the name of the Boeing spacecraft?", "The Starliner flies.", 1.0),
    ("What did the mayor say about tolls?", "Tolls Rise For Everyone.", 0.0),
    ("How many people crossed?", "About 4,000 crossed.", 1.0),
])
def test_answer_types(question: str, sentence: str, match: float) -> None:
    assert answer_type_match(question, sentence) == match


@pytest.mark.parametrize(("text", "day"), [
    ("2022/06/15", date(2022, 6, 15)), ("2024-05-31T10:00:00+00:00", date(2024, 5, 31)),
    ("Published 2023.1.9 by the desk", date(2023, 1, 9)), ("2024-02-30", None),
    ("June 2022", None), (None, None),
])
def test_published_dates(text: str | None, day: date | None) -> None:
    assert published_date(text) == day


def test_cli_asks_as_of_a_day(settings: Settings, cli: Cli, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    article = tmp_path / "a.jsonl"
    article.write_text(json.dumps({"id": "late", "title": "Ferry fares rise", "text": STORY,
                                   "published": "2024-06-01"}) + "\n")
    data = ["--data-dir", str(settings.data_dir)]
    assert cli("add", *data, "--jsonl", str(article))[0] == 0
    code, out, _ = cli("ask", *data, "--json", "--as-of", "2024-05-01", "ferry fares")
    assert code == 0 and json.loads(out)["passages"] == []
    with pytest.raises(SystemExit) as stop:
        cli("ask", *data, "--as-of", "2024-13-01", "ferry fares")
    assert stop.value.code == 2 and "not a day like" in capsys.readouterr().err
    lines = "\n".join(json.dumps({"id": i, "question": "ferry fares", "as_of": day})
                      for i, day in ((1, "2024-05-01"), (2, "2024-06-02"))) + "\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(lines.encode())))
    code, out, _ = cli("ask", *data, "--jsonl")
    answers = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [bool(a["passages"]) for a in answers] == [False, True]


def test_eval_asks_each_question_on_its_date(settings: Settings, tmp_path: Path) -> None:
    rows = [
        {"id": "q1", "question": "How much are ferry fares now?", "answers": ["nine dollars"],
         "doc_id": "fares", "doc_title": "Ferry fares rise", "doc_text": STORY,
         "doc_publish_date": "2024/03/01", "question_date": "2024/03/04"},
        {"id": "q2", "question": "How much are ferry fares now?", "answers": ["nine dollars"],
         "doc_id": "fares", "doc_title": "Ferry fares rise", "doc_text": STORY,
         "doc_publish_date": "2024/03/01", "question_date": "2024/02/01"},
        {"id": "q3", "question": "Who is left out?", "answers": ["x"], "doc_id": "other",
         "doc_title": "Other", "doc_text": "Nothing.", "answer_in_doc": False},
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dated = evaluate(path, settings, baselines=False, unanswerable=False, log=lambda _: None)
    blind = evaluate(path, settings.model_copy(update={"data_dir": tmp_path / "b"}),
                     baselines=False, unanswerable=False, dates=False, log=lambda _: None)
    assert dated["left_out_not_verbatim"] == 1 and dated["asked_on_their_date"] == 2
    results = dated["sides"]["all"]["results"]  # type: ignore[index]
    hit = {r["method"]: r["hit@1"] for r in results}
    assert hit["citebot passages"] == 0.5  # q2 was asked before the article was published
    results = blind["sides"]["all"]["results"]  # type: ignore[index]
    hit = {r["method"]: r["hit@1"] for r in results}
    assert hit["citebot passages"] == 1.0 and blind["asked_on_their_date"] == 0
