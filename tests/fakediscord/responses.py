"""The bodies the fake REST API answers with: JSON exactly as discord.py expects it, Discord's
error bodies (refused fields nested under their path) and 429s."""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any

from aiohttp import web

from .records import RateLimitRule

JSON = "application/json"
_FIELD_PATH = re.compile(r"[a-z_]+(?:\.\w+)*")


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response whose Content-Type is exactly application/json (no charset: discord.py
    compares the header verbatim and otherwise treats the body as text)."""
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": JSON, **(headers or {})},
    )


def no_content() -> web.Response:
    """204 carries no body and so no Content-Type; discord.py reads it as an empty string."""
    return web.Response(status=204)


def error(status: int, code: int, message: str, errors: list[str] | None = None, *,
          fields: dict[str, Any] | None = None) -> web.Response:
    """A Discord error body. `errors` ("embeds.0.title: too long", ...) are nested under their
    field's path as Discord does (`{"embeds": {"0": {"title": {"_errors": [...]}}}}`), so a
    client can tell which part of its body was refused; `fields` is such a dict, given whole."""
    data: dict[str, Any] = {"message": message, "code": code}
    nested = dict(fields or {})
    for text in errors or []:
        path, sep, _ = text.partition(": ")
        keys = path.split(".") if sep and _FIELD_PATH.fullmatch(path) else []
        node = nested
        for key in keys:
            node = node.setdefault(key, {})
        node.setdefault("_errors", []).append({"code": "BASE_TYPE_INVALID", "message": text})
    if nested:
        data["errors"] = nested
    return json_response(data, status)


def invalid_body(errors: list[str]) -> web.Response:
    if errors == ["Cannot send an empty message"]:
        return error(400, 50006, "Cannot send an empty message")
    return error(400, 50035, "Invalid Form Body", errors)


#: What Discord answers a reply to a message that no longer exists (without
#: `fail_if_not_exists: false` in its reference).
UNKNOWN_REFERENCE = {"message_reference": {"_errors": [
    {"code": "REPLIES_UNKNOWN_MESSAGE", "message": "Unknown message"}]}}


def rate_limited(rule: RateLimitRule) -> web.Response:
    ra = rule.retry_after
    headers = {
        "Via": "1.1 google",
        "Retry-After": str(math.ceil(ra)),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + ra:.3f}",
        "X-RateLimit-Reset-After": f"{ra:.3f}",
        "X-RateLimit-Bucket": rule.bucket,
        "X-RateLimit-Scope": rule.scope,
    }
    is_global = rule.scope == "global"
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    body = {"message": "You are being rate limited.", "retry_after": ra, "global": is_global}
    return json_response(body, 429, headers)
