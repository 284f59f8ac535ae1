"""Keeping secrets out of every log line, whatever logger or level wrote it: the bot token, and
the tokens of interactions and webhooks.

discord.py logs every gateway event at DEBUG (an INTERACTION_CREATE carries the interaction's
token) and every webhook request's URL (interaction callbacks and followups carry it in the
path). An interaction token lets whoever holds it answer, edit and delete as the bot in that
channel for 15 minutes, so it is redacted wherever it appears, like the bot token.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted token]"

# .../interactions/{id}/{token}/callback and .../webhooks/{id}/{token}[/messages/...]
_PATH_TOKEN = re.compile(r"(/(?:interactions|webhooks)/\d+/)[^/?#\s'\"]+")
# 'token': '...' in a logged payload (a gateway event, an IDENTIFY), as repr or JSON
_FIELD_TOKEN = re.compile(r"""(['"]token['"]\s*:\s*['"])[^'"]+""")


def scrub(text: str, token: str = "") -> str:
    """`text` with the bot token and any interaction or webhook token replaced."""
    if token:
        text = text.replace(token, REDACTED)
    text = _PATH_TOKEN.sub(lambda m: m[1] + REDACTED, text)
    return _FIELD_TOKEN.sub(lambda m: m[1] + REDACTED, text)


class RedactToken(logging.Filter):
    """Scrubs a record's message, arguments and traceback text.

    Attached to handlers (not loggers): records propagated from child loggers such as
    `discord.http` skip their ancestors' logger filters but always pass the handlers'.
    """

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call; the handler reports it as usual
            return True
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, self.token)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, self.token)
        clean = scrub(message, self.token)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


def install(token: str, logger: logging.Logger | None = None) -> RedactToken:
    """Redact `token` (and interaction tokens) in everything `logger`'s (default: root's)
    handlers emit; adds a stderr handler first if there is none."""
    logger = logger or logging.getLogger()
    if not logger.handlers:
        stderr = logging.StreamHandler()
        stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(stderr)
    redactor = RedactToken(token)
    for handler in logger.handlers:
        handler.addFilter(redactor)
    return redactor
