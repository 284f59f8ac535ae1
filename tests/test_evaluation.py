"""The evaluation discipline: a fixed split, rates of "not found", the embedder that
embeds an article indexed twice once, and the learner the rankers' weights come from."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from config.settings import Settings
from retrieval.evaluation.evaluate import evaluate
from retrieval.evaluation.scoring import RememberingEmbedder, hit_rank
from retrieval.evaluation.splits import article_sides, group_key, select, side_of
from retrieval.learn import fit_listwise, fit_logistic, top1
from tests.conftest import Cli
from tests.postgres import PostgresServer


def ids_on(side: str, count: int, prefix: str = "doc") -> list[str]:
    """Article ids whose own key falls on ``side``."""
    out = [f"{prefix}{n}" for n in range(200) if side_of(f"doc:{prefix}{n}") == side]
    return out[:count]


def test_side_is_the_parity_of_the_keys_hash() -> None:
    for key in ("doc:a", "doc:b", "week:2024-W01", "week:2024-W02"):
        odd = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 2
        assert side_of(key) == ("report" if odd else "tune")
    assert {side_of(f"doc:{n}") for n in range(20)} == {"tune", "report"}


def test_an_article_is_grouped_by_the_week_it_was_first_asked_about() -> None:
    assert group_key("x", ["2024/03/06", "2024-01-03", None]) == "week:2024-W01"
    assert group_key("x", ["2024/01/01"]) == group_key("y", ["2024-01-07"])  # one ISO week
    assert group_key("x", [None, "not a day"]) == "doc:x"


def test_questions_about_one_article_never_straddle_and_order_does_not_matter() -> None:
    rows = [{"doc_id": d, "question_date": day} for d in ("a", "b", "c", "d", "e")
            for day in ("2023/05/01", "2023/07/19", None)]
    sides = article_sides(rows)
    assert sides == article_sides(list(reversed(rows)))
    tune, report = select(rows, "tune"), select(rows, "report")
    assert len(tune) + len(report) == len(rows) and select(rows, "all") == rows
    assert not {r["doc_id"] for r in tune} & {r["doc_id"] for r in report}
    assert sides["a"] == side_of("week:2023-W18")  # the week of its first question


def test_hit_rank_needs_the_right_article_and_an_answer() -> None:
    units = [("b", "Fares rose to nine dollars."), ("a", "Fares rose to Nine  dollars!")]
    assert hit_rank(units, "a", ["nine dollars"]) == 2
    assert hit_rank(units, "a", ["ten dollars"]) == 0


class CountingEmbedder:
    name, dim, max_tokens = "counting", 2, 100

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.embedded += texts
        return np.array([[len(t), 1.0] for t in texts], np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_remembering_embedder_embeds_each_text_once() -> None:
    inner = CountingEmbedder()
    embedder = RememberingEmbedder(inner)
    first = embedder.embed(["a", "bb", "a"])
    again = embedder.embed(["bb", "ccc"])
    assert inner.embedded == ["a", "bb", "ccc"]
    assert first[:, 0].tolist() == [1, 2, 1] and again[:, 0].tolist() == [2, 3]
    assert embedder.embed([]).shape == (0, 2)


def test_listwise_fit_learns_which_feature_marks_the_answer() -> None:
    rng = np.random.default_rng(0)
    groups = []
    for _ in range(60):
        x = rng.normal(size=(6, 3))
        y = np.zeros(6)
        y[int(np.argmax(x[:, 1] - 0.5 * x[:, 2]))] = 1  # feature 0 is noise
        groups.append((x, y))
    w = fit_listwise(groups)
    assert top1(groups, w) > 0.9
    assert abs(w[1]) > 3 * abs(w[0]) and w[2] < 0
    assert top1(groups, np.array([1.0, 0.0, 0.0])) < 0.5
    with pytest.raises(ValueError):
        fit_listwise([(np.zeros((3, 2)), np.zeros(3))])


def test_logistic_fit_separates_and_its_bias_applies_to_raw_features() -> None:
    x = np.array([[0.1], [0.2], [0.3], [0.7], [0.8], [0.9]]) + 100  # far from zero
    y = np.array([0, 0, 0, 1, 1, 1], dtype=float)
    w, b = fit_logistic(x, y)
    p = 1 / (1 + np.exp(-(x @ w + b)))
    assert (p[:3] < 0.5).all() and (p[3:] > 0.5).all()


STORY = ("The harbour authority raised ferry fares to nine dollars on Monday, citing fuel "
         "costs.\n\nCommuters said the rise would hurt workers who cross twice a day.")
OTHER = ("The city library will open on Sundays from March, the council decided.\n\n"
         "Opening hours on weekdays stay the same, from nine to six.")


def test_eval_reports_both_sides_and_both_rates(settings: Settings, tmp_path: Path) -> None:
    fares, library = ids_on("tune", 1, "fares")[0], ids_on("report", 1, "library")[0]
    rows = [{"id": "q1", "question": "How much are ferry fares now?", "answers": ["nine dollars"],
             "doc_id": fares, "doc_title": "Ferry fares rise", "doc_text": STORY},
            {"id": "q2", "question": "When will the library open on Sundays?",
             "answers": ["March"], "doc_id": library, "doc_title": "Library hours",
             "doc_text": OTHER}]
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = evaluate(path, settings, baselines=False, log=lambda _: None)
    sides = report["sides"]
    assert set(sides) == {"tune", "report", "all"}  # type: ignore[arg-type]
    for side in ("tune", "report"):
        t = sides[side]  # type: ignore[index]
        assert t["questions"] == 1 and t["answerable_not_found"] == 0.0
        assert t["unanswerable_asked"] == 1 and t["unanswerable_answered"] == 0.0
    assert sides["all"]["unanswerable_asked"] == 2  # type: ignore[index]
    only = evaluate(path, settings, split="report", baselines=False, unanswerable=False,
                    log=lambda _: None)
    assert set(only["sides"]) == {"report"}  # type: ignore[arg-type]
    assert only["sides"]["report"]["unanswerable_asked"] == 0  # type: ignore[index]


def test_unanswerable_questions_answered_from_another_article_are_counted_apart(
        settings: Settings, tmp_path: Path) -> None:
    """A question asked where its article is not may still find its answer in another article
    on the same story: it counts as answered, and apart as "answer quoted all the same"."""
    fares = ids_on("tune", 1, "fares")[0]
    library, again = ids_on("report", 2, "library")
    rows = [{"id": "q1", "question": "How much are ferry fares now?", "answers": ["nine dollars"],
             "doc_id": fares, "doc_title": "Ferry fares rise", "doc_text": STORY},
            {"id": "q2", "question": "When will the library open on Sundays?",
             "answers": ["March"], "doc_id": library, "doc_title": "Library hours",
             "doc_text": OTHER},
            {"id": "q3", "question": "Who objects to the ferry fares?", "answers": ["Commuters"],
             "doc_id": again, "doc_title": "Ferry fares, a week on",
             "doc_text": "A week on, ferry fares stay at nine dollars.\n\nCommuters object."}]
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tune = evaluate(path, settings, baselines=False, log=lambda _: None)["sides"]["tune"]  # type: ignore[index]
    assert tune["unanswerable_asked"] == 1 and tune["unanswerable_answered"] == 1.0
    assert tune["unanswerable_answer_quoted"] == 1.0


def _question_file(path: Path, stories: list[tuple[str, str, str, str]]) -> Path:
    """A question file of (article id, text, question, answer) rows, titled by their ids."""
    path.write_text("".join(json.dumps({
        "id": f"q-{doc}", "question": question, "answers": [answer], "doc_id": doc,
        "doc_title": doc, "doc_text": text}) + "\n" for doc, text, question, answer in stories))
    return path


def test_eval_refuses_a_collection_that_holds_another_sets_articles(
        backend: str, cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    """`citebot eval` measures the file's articles alone. On a store that already holds
    another set's articles in its collection (two sets evaluated on one PostgreSQL database,
    or one --data-dir) it used to index beside them and report figures for the mixture; now
    it refuses in one sentence, changes nothing, and --collection names a fresh one."""
    if backend == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        monkeypatch.setenv("CITEBOT_DATABASE_URL", server.new_database())
    data = str(tmp_path / "evaldata")
    (fares,), (library,) = ids_on("tune", 1, "fares"), ids_on("report", 1, "library")
    first = _question_file(tmp_path / "first.jsonl", [
        (fares, STORY, "How much are ferry fares now?", "nine dollars"),
        (library, OTHER, "When will the library open on Sundays?", "March")])
    assert cli("eval", str(first), "--no-baselines", "--data-dir", data)[0] == 0
    assert cli("eval", str(first), "--no-baselines", "--data-dir", data)[0] == 0  # again: fine
    (bridge,), (museum,) = ids_on("tune", 1, "bridge"), ids_on("report", 1, "museum")
    second = _question_file(tmp_path / "second.jsonl", [
        (bridge, "The new bridge opened on Monday after four years of work.",
         "When did the bridge open?", "Monday"),
        (museum, "The museum will charge eight euros from June.",
         "How much will the museum charge?", "eight euros")])
    code, out, err = cli("eval", str(second), "--no-baselines", "--data-dir", data)
    assert code != 0 and out == ""
    assert "'eval' already holds 2 articles that are not in second.jsonl" in err
    assert "--collection" in err and len(err.strip().splitlines()) == 1
    code, out, _ = cli("eval", str(second), "--no-baselines", "--data-dir", data,
                       "--collection", "second", "--output", str(tmp_path / "second.json"))
    report = json.loads((tmp_path / "second.json").read_text())
    assert code == 0 and report["articles"] == 2 and report["passages"] == 2
    code, out, _ = cli("list", "--collection", "eval", "--data-dir", data)
    assert fares in out and bridge not in out  # the refused run changed nothing
