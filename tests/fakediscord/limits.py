"""Discord's size limits on what a bot sends, so over-long answers fail here as they would live.

`message_errors(body)` and `choice_errors(body)` return a list of problems (empty when fine);
the REST layer answers 400 with code 50035 (or 50006 for an empty message) when there are any.
"""

from __future__ import annotations

from typing import Any

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_FIELDS_MAX = 25
ACTION_ROWS_MAX = 5
ROW_ITEMS_MAX = 5
CHOICES_MAX = 25

_EMBED_TEXT_LIMITS = {"title": 256, "description": 4096}


def _too_long(where: str, value: Any, limit: int) -> list[str]:
    if isinstance(value, str) and len(value) > limit:
        return [f"{where}: {len(value)} characters, limit {limit}"]
    return []


def _embed_errors(i: int, embed: dict[str, Any]) -> tuple[list[str], int]:
    errors: list[str] = []
    total = 0
    for key, limit in _EMBED_TEXT_LIMITS.items():
        value = embed.get(key) or ""
        errors += _too_long(f"embeds.{i}.{key}", value, limit)
        total += len(value)
    footer = (embed.get("footer") or {}).get("text") or ""
    author = (embed.get("author") or {}).get("name") or ""
    errors += _too_long(f"embeds.{i}.footer.text", footer, 2048)
    errors += _too_long(f"embeds.{i}.author.name", author, 256)
    total += len(footer) + len(author)
    fields = embed.get("fields") or []
    if len(fields) > EMBED_FIELDS_MAX:
        errors.append(f"embeds.{i}.fields: {len(fields)} fields, limit {EMBED_FIELDS_MAX}")
    for j, fld in enumerate(fields):
        name, value = fld.get("name") or "", fld.get("value") or ""
        errors += _too_long(f"embeds.{i}.fields.{j}.name", name, 256)
        errors += _too_long(f"embeds.{i}.fields.{j}.value", value, 1024)
        if not name or not value:
            errors.append(f"embeds.{i}.fields.{j}: name and value are required")
        total += len(name) + len(value)
    return errors, total


def _component_errors(rows: list[dict[str, Any]]) -> list[str]:
    errors: list[str] = []
    if len(rows) > ACTION_ROWS_MAX:
        errors.append(f"components: {len(rows)} rows, limit {ACTION_ROWS_MAX}")
    for i, row in enumerate(rows):
        items = row.get("components") or []
        if row.get("type") == 1 and len(items) > ROW_ITEMS_MAX:
            errors.append(f"components.{i}: {len(items)} items, limit {ROW_ITEMS_MAX}")
        for j, item in enumerate(items):
            errors += _too_long(f"components.{i}.{j}.custom_id", item.get("custom_id"), 100)
            errors += _too_long(f"components.{i}.{j}.label", item.get("label"), 80)
    return errors


def is_empty(body: dict[str, Any]) -> bool:
    keys = ("content", "embeds", "components", "attachments", "sticker_ids", "poll")
    return not any(body.get(k) for k in keys)


def message_errors(body: dict[str, Any], *, edit: bool = False, files: int = 0) -> list[str]:
    """Problems Discord would reject in a message create (or, with `edit`, edit) body that
    came with `files` uploaded files."""
    errors = _too_long("content", body.get("content"), CONTENT_MAX)
    embeds = body.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        errors.append(f"embeds: {len(embeds)} embeds, limit {EMBEDS_MAX}")
    total = 0
    for i, embed in enumerate(embeds):
        embed_errors, embed_total = _embed_errors(i, embed)
        errors += embed_errors
        total += embed_total
    if total > EMBED_TOTAL_MAX:
        errors.append(f"embeds: {total} characters in total, limit {EMBED_TOTAL_MAX}")
    errors += _component_errors(body.get("components") or [])
    if not edit and not errors and not files and is_empty(body):
        errors.append("Cannot send an empty message")
    return errors


def choice_errors(data: dict[str, Any]) -> list[str]:
    """Problems in an autocomplete result (callback type 8 `data`)."""
    choices = data.get("choices")
    if not isinstance(choices, list):
        return ["choices: required"]
    errors = []
    if len(choices) > CHOICES_MAX:
        errors.append(f"choices: {len(choices)} choices, limit {CHOICES_MAX}")
    for i, choice in enumerate(choices):
        name = choice.get("name") or ""
        if not 1 <= len(name) <= 100:
            errors.append(f"choices.{i}.name: length {len(name)}, must be 1-100")
        value = choice.get("value")
        if isinstance(value, str) and len(value) > 100:
            errors.append(f"choices.{i}.value: length {len(value)}, limit 100")
    return errors
