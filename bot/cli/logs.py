"""How log records are written: text for a person (the default) or, with
CITEBOT_LOG_FORMAT=json, one JSON object per line for a log collector (Loki, Elasticsearch,
journald's JSON export), through the standard logging module."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One line per record: time (UTC, ISO 8601), level, logger, message, and the exception's
    text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # exc_text first: the redacting filter (bot/discord/redact.py) leaves the scrubbed
        # text there
        text = record.exc_text
        if not text and record.exc_info:
            text = self.formatException(record.exc_info)
        if text:
            line["exception"] = text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


def use_format(kind: str) -> None:
    """Write the root logger's records as `kind` ("text" or "json") from now on; text is how
    the command line set logging up already, and is left as it is."""
    if kind != "json":
        return
    formatter = JsonFormatter()
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
