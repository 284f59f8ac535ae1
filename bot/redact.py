"""Keeping the bot token out of every log line, whatever logger or level wrote it."""

from __future__ import annotations

import logging

REDACTED = "[redacted token]"


class RedactToken(logging.Filter):
    """Replaces the token in a record's message, arguments and traceback text.

    Attached to handlers (not loggers): records propagated from child loggers such as
    `discord.http` skip their ancestors' logger filters but always pass the handlers'.
    """

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.token:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.stack_info:
            record.stack_info = record.stack_info.replace(self.token, REDACTED)
        if record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, REDACTED)
        if self.token in message or record.args:
            record.msg, record.args = message.replace(self.token, REDACTED), None
        return True


def install(token: str, logger: logging.Logger | None = None) -> RedactToken:
    """Redact `token` in everything `logger`'s (default: root's) handlers emit; adds a stderr
    handler first if there is none."""
    logger = logger or logging.getLogger()
    if not logger.handlers:
        stderr = logging.StreamHandler()
        stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(stderr)
    redactor = RedactToken(token)
    for handler in logger.handlers:
        handler.addFilter(redactor)
    return redactor
