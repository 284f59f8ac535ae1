"""`citebot insights`: off until enabled, the grouped unanswered questions of the collection
asked (text and JSON), enable with a retention, disable deletes; clear sentences for what
is refused. In process, on the real bundled model."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(str(p) for p in (ROOT / "examples" / "articles").iterdir())
UNANSWERED = ["Why was the harbor ferry cancelled?", "what caused the ferry cancellation",
              "Who is the new school superintendent?"]


def test_insights_are_off_until_enabled_then_show_grouped_gaps(cli: Cli) -> None:
    assert cli("add", *EXAMPLES)[0] == 0
    code, out, _ = cli("insights")
    assert code == 0 and out.strip() == (
        "Insights are off for collection 'default'; turn them on with `citebot insights "
        "enable --collection default`.")
    cli("ask", UNANSWERED[0])  # off: not kept
    code, out, _ = cli("insights", "enable", "--retention-days", "14")
    assert code == 0 and "kept for 14 days" in out and "never who asked" in out
    code, out, _ = cli("insights")
    assert code == 0 and "No unanswered or down-voted questions" in out
    for question in UNANSWERED:
        code, answer, _ = cli("ask", "--json", question)
        assert code == 0 and not json.loads(answer)["found"]
    cli("ask", "What did Ortiz say about the cost of the barrier?")  # answered: not kept
    code, out, _ = cli("insights", "--days", "7")
    lines = out.strip().splitlines()
    assert code == 0 and "3 questions, 2 gaps" in lines[0], out
    assert "the last 7 days (questions are kept 14 days)" in lines[0]
    assert lines[1].lstrip().startswith("2\u00d7 "), out  # the two ferry questions, one gap
    assert "ferry cancel" in lines[1]
    assert "2 not found" in lines[1] and "2 wordings" in lines[1]
    assert "Who is the new school superintendent?" in lines[2]
    code, out, _ = cli("insights", "--days", "100")  # beyond the retention: the retention
    assert code == 0 and "the last 14 days (questions are kept 14 days)" in out
    code, out, _ = cli("insights", "--json")
    report = json.loads(out)
    assert report["on"] and report["retention_days"] == 14 and report["questions"] == 3
    assert [g["count"] for g in report["gaps"]] == [2, 1]
    assert report["gaps"][0]["kinds"] == {"not_found": 2}
    code, out, _ = cli("insights", "--collection", "other")  # another collection: nothing
    assert code == 0 and "off for collection 'other'" in out
    code, out, _ = cli("insights", "disable")
    assert code == 0 and "deleted 3 kept questions" in out
    code, out, _ = cli("insights", "--json")
    assert json.loads(out) == {"collection": "default", "on": False, "retention_days": None,
                               "days": 7, "questions": 0, "gaps": []}


def test_insights_options_out_of_range_are_one_clear_line(cli: Cli) -> None:
    code, _, err = cli("insights", "enable", "--retention-days", "0")
    assert code == 1 and err.strip() == (
        "citebot: The retention must be between 1 and 365 days; 0 is not.")
    code, _, err = cli("insights", "--retention-days", "3")
    assert code == 2 and "--retention-days goes with `citebot insights enable`" in err
    assert len(err.strip().splitlines()) == 1
