"""One line of a bulk add (JSON Lines), read and checked field by field."""

from __future__ import annotations

import json
from typing import Any

from index.ingest.prepare import FIELD_MAX, TITLE_MAX

_RECORD_FIELDS = ("id", "url", "title", "text", "published", "source", "author")


def parse_record(line: str) -> dict[str, Any]:
    """One JSON line of a bulk add, checked: ValueError naming the field that is wrong."""
    try:
        record = json.loads(line)
    except RecursionError:
        raise ValueError("the line is nested too deeply to be an article") from None
    except ValueError as exc:  # the decoder's message gives a position, never the content
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(record, dict):
        raise ValueError(f"each line must be a JSON object, not {json_type(record)}")
    for key in _RECORD_FIELDS:
        value = record.get(key)
        wanted = (str, int) if key == "id" else str
        if value is not None and (isinstance(value, bool) or not isinstance(value, wanted)):
            raise ValueError(f"\"{key}\" must be a string, not {json_type(value)}")
        if key != "text" and isinstance(value, str):
            check_field(key, value)
    if record.get("id") is not None:
        record["id"] = str(record["id"])
    if record.get("text") is None and not record.get("url"):
        raise ValueError('a line needs "text" or "url"')
    if record.get("text") is not None and not (record.get("title") or "").strip():
        raise ValueError('a line with "text" needs a "title"')
    return {k: record.get(k) for k in _RECORD_FIELDS}


def check_field(name: str, value: str) -> None:
    """Refuse a field given by a person that is over its limit (extracted ones are clipped)."""
    limit = TITLE_MAX if name == "title" else FIELD_MAX.get(name, 128)
    if len(value) > limit:
        raise ValueError(f"\"{name}\" is {len(value):,} characters, over the limit of {limit:,}")


def json_type(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    names = {bool: "true/false", int: "a number", float: "a number", str: "a string",
             list: "an array", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)
