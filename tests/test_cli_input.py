"""The command-line tool under hostile or careless input: sizes, batches, special files,
terminal escapes, schemes and encodings (on the real bundled model, in process)."""

from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path

import pytest

from bot.cli.lines import read_lines
from index.errors import CitebotError
from index.indexer import BadLine
from tests.conftest import Cli

STORY = ("The harbour ferry strike ended on Monday after nine days, the union said. "
         "Ferries will run a full timetable from Tuesday morning.")


def stdin_bytes(monkeypatch: pytest.MonkeyPatch, data: bytes | io.RawIOBase) -> None:
    raw = io.BytesIO(data) if isinstance(data, bytes) else data
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(raw))  # type: ignore[arg-type]


def record(**fields: object) -> bytes:
    return json.dumps(fields).encode()


# --- sizes ----------------------------------------------------------------------------------

def test_a_huge_first_line_is_not_repeated_as_a_title(cli: Cli,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    body = "\n\n".join(f"Paragraph {i} says the council met on Monday." for i in range(20))
    path.write_text("x" * 47_000 + "\n\n" + body)
    code, out, _ = cli("add", str(path))
    assert code == 0
    code, out, _ = cli("list", "--json")
    (article,) = json.loads(out)
    assert len(article["title"]) <= 300
    assert article["paragraph_count"] == 21  # the long line stays as text, not lost


def test_jsonl_fields_over_their_limits_are_refused_by_name(cli: Cli,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_bytes(record(title="t" * 1_000_000, text=STORY) + b"\n"
                     + record(title="ok", text=STORY, source="s" * 5_000) + b"\n"
                     + record(title="Ferry strike ends", text=STORY) + b"\n")
    code, out, err = cli("add", "--jsonl", str(path))
    assert code == 1 and "1 added" in out and "2 failed" in out
    assert '"title" is 1,000,000 characters' in err and '"source" is 5,000' in err
    assert len(err) < 600  # the fields themselves are never echoed


class Zeros(io.RawIOBase):
    """/dev/zero, counting what is read (a real one's tell() is always 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        buffer[:] = bytes(len(buffer))
        self.read_bytes += len(buffer)
        return len(buffer)


def test_stdin_over_the_limit_is_refused_after_reading_only_the_limit(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    zeros = Zeros()
    stdin_bytes(monkeypatch, zeros)
    code, _, err = cli("add", "-")
    assert code == 1 and "Standard input is over the limit" in err and len(err) < 300
    assert 5_000_001 <= zeros.read_bytes <= 5_000_001 + (1 << 16)


def test_endless_jsonl_input_is_given_up_on_bounded() -> None:
    zeros = Zeros()
    with pytest.raises(CitebotError, match="no line break"):
        list(read_lines(io.BufferedReader(zeros), max_bytes=1_000, give_up_bytes=4 << 20))
    assert zeros.read_bytes < 8 << 20


@pytest.mark.parametrize("text, limit", [
    ("word " * 25_000, "words"),
    ("\n\n".join(f"Line {i} is here." for i in range(1_500)), "paragraphs"),
])
def test_work_per_article_is_bounded(cli: Cli, tmp_path: Path,
                                     text: str, limit: str) -> None:
    path = tmp_path / "big.txt"
    path.write_text("A title\n\n" + text)
    code, _, err = cli("add", str(path))
    assert code == 1 and "over the limit" in err and limit in err


# --- processes and batches --------------------------------------------------------------

def test_a_fifo_is_refused_not_waited_on(cli: Cli,
                                         tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    result: list[tuple[int, str, str]] = []
    for args in (["add", str(fifo)], ["add", "--jsonl", str(fifo)]):
        worker = threading.Thread(target=lambda a=args: result.append(cli(*a)), daemon=True)
        worker.start()
        worker.join(timeout=60)
        assert not worker.is_alive(), f"citebot {' '.join(args)} blocked on a FIFO"
    assert [(code, "not a regular file" in err) for code, _, err in result] == [(1, True)] * 2


def test_every_jsonl_line_gets_its_own_result(cli: Cli,
                                              monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    lines = [
        record(id="a1", title="Ferry strike ends", text=STORY),
        b"[" * 5_000 + b"]" * 5_000,  # nested too deep for the JSON parser's recursion
        record(id="bad", title="Snow", text="Schools closed.")[:-3] + b"\xff\"}",
        b'{"title": "truncated", "text": "The fer',
        record(id=7, title=["a list"], text=STORY),
        b'"just a string"',
        record(id="a2", title="Snow day", text="Schools closed for snow on Friday, the "
               "district said, and will open again on Monday."),
    ]
    data = b"\n".join(lines) + b"\n"
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(data)
    code, out, err = cli("add", "--jsonl", str(path))
    assert code == 1 and "2 added" in out and "5 failed" in out
    errors = err.splitlines()
    assert [e.split(":")[2] for e in errors] == ["2", "3", "4", "5", "6"]
    assert "nested too deeply" in errors[0] and "not UTF-8" in errors[1]
    assert "not valid JSON" in errors[2] and '"title" must be a string' in errors[3]
    assert "JSON object" in errors[4]
    stdin_bytes(monkeypatch, data)  # the same from standard input
    code, out, _ = cli("add", "--jsonl", "-")
    assert "2 unchanged" in out and "5 failed" in out


def test_every_question_line_gets_its_own_answer_or_error(cli: Cli,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    (tmp_path / "story.txt").write_text("Ferry strike ends\n\n" + STORY)
    cli("add", str(tmp_path / "story.txt"))
    lines = [
        record(id="q1", question="When did the ferry strike end?"),
        record(id="q2", question="When did the ferry strike end?", as_of="next tuesday"),
        b'{"id": "q3", "question": "When did the fe',
        record(id="q4", question=None),
        record(id="q5", question=42),
        b'{"id": "q6", "question": ' + b"[" * 5_000,
        b"When did the ferry strike end? \xff",
        record(id=["q8"], question="ferry"),
        record(id="q9", question="x" * 5_000),
        b"When did the ferry strike end?",
    ]
    stdin_bytes(monkeypatch, b"\n".join(lines) + b"\n")
    code, out, _ = cli("ask", "--jsonl")
    answers = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(answers) == len(lines)
    assert answers[0]["id"] == "q1" and answers[0]["found"]
    assert answers[-1]["found"] and "id" not in answers[-1]
    errors = {a.get("id", a.get("line")): a["error"] for a in answers if "error" in a}
    assert set(errors) == {"q2", 3, "q4", "q5", 6, 7, 8, "q9"}
    assert '"as_of"' in errors["q2"] and "not valid JSON" in errors[3]
    assert '"question" must be a string, not null' in errors["q4"]
    assert errors["q5"] == '"question" must be a string, not a number'
    assert "nested too deeply" in errors[6] and "not UTF-8" in errors[7]
    assert '"id"' in errors[8] and '"question" is 5,000 characters' in errors["q9"]


def test_read_lines_keeps_line_numbers_through_bad_lines() -> None:
    data = b"one\n" + b"x" * 50 + b"\nthree\n\xff\nfive"
    items = list(read_lines(io.BufferedReader(io.BytesIO(data)), max_bytes=20))  # type: ignore[arg-type]
    assert items[0] == "one" and items[2] == "three" and items[4] == "five"
    assert isinstance(items[1], BadLine) and isinstance(items[3], BadLine)


# --- output and files ---------------------------------------------------------------------

ESCAPES = "\x1b]0;owned\x07\x1b]52;c;Y2xpcGJvYXJk\x07\x1b[2J\x9b31m"


def test_terminal_escapes_are_stored_verbatim_but_never_printed(
        cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "escapes.txt"
    path.write_text(f"Ferry {ESCAPES}strike ends\n\n{STORY} {ESCAPES}Tickets are refunded.")
    outputs = [cli("add", str(path))[1], cli("list")[1],
               cli("ask", "When did the ferry strike end?")[1]]
    for out in outputs:
        assert not any(c in out for c in "\x1b\x07\x9b"), out
    assert "\\x1b]0;owned" in outputs[1]
    _code, out, _ = cli("ask", "--json", "Are tickets refunded?")
    assert not any(c in out for c in "\x1b\x07\x9b")
    answer = json.loads(out)
    assert any(ESCAPES in p["text"] for p in answer["passages"])  # verbatim in JSON


def test_errors_never_echo_file_content(cli: Cli, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "CITEBOT_TEST_SECRET=hunter2-do-not-print"
    path = tmp_path / "environ"
    path.write_bytes(f"{secret}\x00PATH=/usr/bin\x00HOME=/root\x00".encode())
    monkeypatch.setenv("CITEBOT_TEST_SECRET", "hunter2-do-not-print")
    for source in (str(path), "/proc/self/environ"):
        code, out, err = cli("add", source)
        assert code == 1 and "hunter2" not in out + err and len(err) < 300


@pytest.mark.parametrize("source", ["file:///etc/passwd", "ftp://example.com/a.txt",
                                    "gopher://example.com/"])
def test_unsupported_schemes_are_named(cli: Cli, source: str) -> None:
    code, _, err = cli("add", source)
    scheme = source.split(":")[0]
    assert code == 1 and f"not {scheme}://" in err and "http:// and https://" in err


def test_an_upper_case_scheme_is_a_url_not_a_file(cli: Cli) -> None:
    code, _, err = cli("add", "HTTP://127.0.0.1/admin")
    assert code == 1 and "127.0.0.1" in err and "Cannot read" not in err


def test_utf16_without_a_byte_order_mark(cli: Cli,
                                         tmp_path: Path) -> None:
    path = tmp_path / "utf16.txt"
    path.write_bytes(f"Ferry strike ends\n\n{STORY} Café prices stay the same.".encode(
        "utf-16-le"))
    assert cli("add", str(path))[0] == 0
    _code, out, _ = cli("ask", "--json", "When did the ferry strike end?")
    answer = json.loads(out)
    assert answer["found"] and answer["quotes"][0]["title"] == "Ferry strike ends"
    assert "Café" in answer["passages"][0]["text"]
