"""The command-line tool, in process, on the real bundled model."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.conftest import SHARED, Cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(str(p) for p in (ROOT / "examples" / "articles").iterdir())
SEED = SHARED / "seed" / "000_25aae2e60ceb2198.txt"


def test_add_ask_list_remove(cli: Cli) -> None:
    code, out, _ = cli("add", *EXAMPLES)
    assert code == 0 and out.count("added:") == 3
    code, out, _ = cli("add", EXAMPLES[0])
    assert code == 0 and out.startswith("unchanged:")
    code, out, _ = cli("ask", "What did Ortiz say about the cost of the barrier?")
    assert code == 0  # the README's sample question: the grant sentence comes first
    assert out.lstrip().startswith("\u201cOrtiz also said that the city would apply for a federal")
    assert "[1] Port Averly approves" in out
    assert "paragraph 4" in out
    code, out, _ = cli("ask", "--json", "Who won the robotics championship?")
    answer = json.loads(out)
    assert answer["found"] and answer["quotes"][0]["title"].startswith("Lakeside High")
    assert len(answer["passages"]) >= 5
    code, out, _ = cli("list")
    assert code == 0 and len(out.strip().splitlines()) == 3
    article_id = out.split()[0]
    code, out, _ = cli("remove", article_id)
    assert code == 0 and out.startswith("removed:")
    code, out, err = cli("remove", article_id)
    assert code == 1 and err.count("\n") == 1 and "No article" in err


def test_ask_jsonl_one_answer_per_line(cli: Cli,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cli("add", *EXAMPLES)
    questions = 'How much will the barrier cost?\n\n{"id": "q2", "question": "Who is Priya Raman?"}\n'
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(questions.encode())))
    code, out, _ = cli("ask", "--jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == 2
    assert lines[1]["id"] == "q2" and lines[1]["found"]
    assert all(set(line) >= {"question", "found", "answer", "quotes", "passages"} for line in lines)


def test_bulk_jsonl_reports_bad_lines_and_goes_on(cli: Cli,
                                                   tmp_path: Path) -> None:
    lines = [
        {"id": "a1", "title": "Ferry strike ends", "text": "The ferry strike ended on Monday.",
         "url": "https://example.invalid/never-fetched", "published": "2024-01-02"},
        "not json",
        {"title": "No text or url"},
        {"id": "a2", "title": "Snow day", "text": "Schools closed for snow.", "source": "Daily"},
    ]
    path = tmp_path / "bulk.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines))
    code, out, err = cli("add", "--jsonl", str(path))
    assert code == 1 and "2 added" in out and "2 failed" in out
    assert "bulk.jsonl:2" in err and "bulk.jsonl:3" in err
    code, out, _ = cli("list", "--json")
    assert {a["id"] for a in json.loads(out)} == {"a1", "a2"}


def test_errors_are_one_clear_line(cli: Cli) -> None:
    code, _, err = cli("add", "does-not-exist.txt")
    assert code == 1 and "Cannot read" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("add", "http://127.0.0.1/admin")
    assert code == 1 and "127.0.0.1" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("ask", "  ")
    assert code == 1 and "Ask a question" in err
    code, _, err = cli("add", "--text", "body only")
    assert code == 1 and "--title" in err


def test_collections_and_not_found(cli: Cli) -> None:
    cli("add", "--collection", "other", *EXAMPLES)
    code, out, err = cli("ask", "What did Ortiz say about the barrier?")
    assert code == 1 and "'default' holds no articles" in err and "is other" in err
    code, out, _ = cli("ask", "--collection", "other",
                       "What is the boiling point of tungsten?")
    assert "do not answer" in out and "Closest matches" in out


def test_rebuild_and_stats(cli: Cli) -> None:
    cli("add", *EXAMPLES)
    code, out, _ = cli("rebuild")
    assert code == 0 and "3 articles" in out
    code, out, _ = cli("stats", "--json")
    stats = json.loads(out)
    assert stats["articles"] == 3 and stats["vectors"] == stats["chunks"] > 0


@pytest.mark.skipif(not SEED.exists(), reason="the shared seed article is not present")
def test_seed_article_pompeo_question(cli: Cli) -> None:
    assert cli("add", str(SEED))[0] == 0
    _code, out, _ = cli("ask", "--json", "what did Pompeo say about remains repatriation?")
    answer = json.loads(out)
    assert answer["quotes"][0]["text"] == (
        "Pompeo also said that there would be a meeting next week about the repatriation of "
        "remains of American soldiers killed in the Korean War.")
    assert answer["quotes"][0]["speaker"] == "Pompeo"
    assert "Related news" not in out and "error occurred" not in out
