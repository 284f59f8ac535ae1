"""Reading batch input (JSON Lines, questions) in bounded pieces, a line at a time.

Nothing is read whole: a line longer than its limit is skipped (to the next line break) and
reported, an undecodable line is reported, and the lines after either are read as usual.
Input with no line break for far longer than any line may be (``/dev/zero``) is given up on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from index.errors import CitebotError
from index.indexer import BadLine
from index.ingest.records import json_type
from retrieval.answer import MAX_QUESTION_CHARS

_PIECE = 1 << 20
GIVE_UP_BYTES = 64 << 20  # skipped without a line break: this is not line-based input


def read_lines(stream: BinaryIO, *, max_bytes: int,
               give_up_bytes: int = GIVE_UP_BYTES) -> Iterator[str | BadLine]:
    """Every line of ``stream`` (without its line break), or a BadLine saying why it could
    not be read; one item per line, so line numbers stay right."""
    first = True
    while raw := stream.readline(max_bytes + 1):
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            _skip_line(stream, len(raw), max(give_up_bytes, max_bytes))
            yield BadLine(f"the line is over the limit of {max_bytes:,} bytes")
        else:
            yield _decoded(raw.removeprefix(b"\xef\xbb\xbf") if first else raw)
        first = False


def _skip_line(stream: BinaryIO, skipped: int, give_up_bytes: int) -> None:
    while not (piece := stream.readline(_PIECE)).endswith(b"\n"):
        if not piece:
            return
        skipped += len(piece)
        if skipped > give_up_bytes:
            raise CitebotError(
                f"The input has no line break in {give_up_bytes >> 20} MiB; it is not "
                "JSON Lines (one record a line). Stopped reading; the lines before were done.")


def _decoded(raw: bytes) -> str | BadLine:
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        return BadLine(f"the line is not UTF-8 text (byte {exc.start + 1} of the line)")


QUESTION_LINE_MAX = 65_536  # bytes in one line of `ask --jsonl`


class BadQuestionLine(ValueError):
    """A line of `ask --jsonl` that is not a question; ``id`` is the line's id if it had one."""

    def __init__(self, reason: str, qid: object = None) -> None:
        super().__init__(reason)
        self.id = qid


CONVERSATION_MAX = 200  # characters of a conversation id in `ask --jsonl`


@dataclass(frozen=True)
class QuestionLine:
    """One line of `ask --jsonl`: the question, its id, the day to answer as of, and the
    conversation it follows up (if any)."""

    text: str
    id: object = None
    as_of: date | None = None
    conversation: str | None = None


def parse_question(line: str | BadLine) -> QuestionLine:
    """A line as plain text, or as {"id"?, "question", "as_of"?, "conversation"?};
    BadQuestionLine naming the field that is wrong (a line that starts with "{" is always
    read as JSON)."""
    if isinstance(line, BadLine):
        raise BadQuestionLine(line.reason)
    text = line.strip()
    if not text.startswith("{"):
        return QuestionLine(_checked_question(text))
    try:
        record = json.loads(text)
    except RecursionError:
        raise BadQuestionLine("the line is nested too deeply to be a question") from None
    except ValueError as exc:
        raise BadQuestionLine(f"not valid JSON ({exc})") from None
    if not isinstance(record, dict):
        raise BadQuestionLine(f"a line starting with '{{' must be a JSON object, not "
                              f"{json_type(record)}")
    qid = record.get("id")
    if qid is not None and (isinstance(qid, bool) or not isinstance(qid, (str, int, float))):
        raise BadQuestionLine(f'"id" must be a string or a number, not {json_type(qid)}')
    try:
        return QuestionLine(_checked_question(_field(record, "question", required=True)), qid,
                            _as_of(_field(record, "as_of")), _conversation(record))
    except ValueError as exc:
        raise BadQuestionLine(str(exc), qid) from None


def _conversation(record: dict[str, object]) -> str | None:
    value = record.get("conversation")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f'"conversation" must be a string or a number, not {json_type(value)}')
    text = str(value).strip()
    if not text or len(text) > CONVERSATION_MAX:
        raise ValueError(f'"conversation" must have 1 to {CONVERSATION_MAX} characters')
    return text


def _field(record: dict[str, object], name: str, *, required: bool = False) -> str | None:
    value = record.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ValueError(f'"{name}" must be a string, not {json_type(value)}')
    return value


def _checked_question(text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        raise ValueError('"question" is empty')
    if len(text) > MAX_QUESTION_CHARS:
        raise ValueError(f'"question" is {len(text):,} characters, over the limit of '
                         f"{MAX_QUESTION_CHARS:,}")
    return text


def _as_of(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError('"as_of" must be a day like 2024-05-31') from None
