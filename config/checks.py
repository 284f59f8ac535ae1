"""Reading and checking settings as people write them: lists, shard ids, addresses, networks,
database URLs; and a refused setting told as a person fixes it. Used by ``config.settings``."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import SettingsError


def user_cache_dir() -> Path | None:
    """citebot's folder in the user's cache ($XDG_CACHE_HOME, else ~/.cache); None when the
    user has no home directory."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():  # the XDG rule: a relative value is ignored
        return Path(xdg) / "citebot"
    try:
        return Path.home() / ".cache" / "citebot"
    except RuntimeError:
        return None


Port = Annotated[int, Field(ge=1, le=65_535)]
MAX_SHARDS = 4096  # far past Discord's largest bots; a typo such as 20000 is caught
POSTGRES_SCHEMES = ("postgresql://", "postgres://")  # what CITEBOT_DATABASE_URL may start with


def parse_shard_ids(text: str) -> tuple[int, ...]:
    """'0,2', '0-3', '[0, 1]' or a mix ('0-2, 5') -> the shard ids, in order."""
    ids: list[int] = []
    for part in text.strip().strip("[]").split(","):
        part = part.strip()
        if not part:
            continue
        first, dash, last = part.partition("-")
        try:
            low, high = int(first), int(last) if dash else int(first)
        except ValueError:
            raise ValueError(f"{part!r} is not a shard id or a range like 0-3") from None
        if high < low:
            raise ValueError(f"the range {part!r} runs backwards")
        if high - low >= MAX_SHARDS:
            raise ValueError(f"the range {part!r} is longer than {MAX_SHARDS} shards")
        ids.extend(range(low, high + 1))
    return tuple(ids)


def parse_list(value: Any) -> Any:
    """A list setting as people write it: 'a', 'a,b' or a JSON list '["a", "b"]' -> a tuple
    (anything but text is left to the field's type)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text.startswith("["):
        return tuple(part.strip() for part in text.split(",") if part.strip())
    try:
        items = json.loads(text)
    except ValueError:
        raise ValueError("that is not a JSON list; write the items separated by commas "
                         "instead") from None
    if not isinstance(items, list):
        raise ValueError("that is not a list")
    return tuple(items)


def parse_address(text: str) -> tuple[str, int]:
    """'9108' -> ('127.0.0.1', 9108); 'HOST:PORT' or '[::1]:PORT' -> (host, port). Port 0
    takes any free port."""
    host, colon, port = text.strip().rpartition(":")
    host = host.strip("[]") if colon else "127.0.0.1"
    if not port.isdigit() or int(port) > 65_535:
        raise ValueError("give a port (0-65535), alone or after a host, like 127.0.0.1:9108")
    if not host:
        raise ValueError("the host before ':' is empty; write 127.0.0.1:PORT or just PORT")
    return host, int(port)


# Examples for the refusal of a setting whose default shows none (the others show it)
EXAMPLES = {
    "data_dir": "/srv/citebot-data",
    "database_url": "postgresql://citebot:password@localhost:5432/citebot",
    "database_read_url": "postgresql://citebot:password@replica:5432/citebot",
    "model_cache_dir": "/srv/citebot-models",
    "fetch_allow_networks": "10.0.0.0/8,127.0.0.1/32",
    "fetch_allow_ports": "80,443,8080",
    "feed_retention_days": "30",
    "llm_base_url": "http://127.0.0.1:11434/v1",
    "llm_model": "llama3.2",
    "llm_api_key": "sk-...",
    "discord_token": "the-bot-token",
    "discord_api_base": "https://discord.com/api/v10",
    "discord_gateway_url": "wss://gateway.discord.gg",
    "dev_guild_id": "123456789012345678",
    "shard_count": "4",
    "shard_ids": "0,1",
    "metrics_address": "127.0.0.1:9108",
}
_PARSE_ERROR = re.compile(r'field "(\w+)"')




def check_networks(value: tuple[str, ...]) -> tuple[str, ...]:
    """The networks, each checked to be one (10.0.0.0/8, 127.0.0.1/32)."""
    for cidr in value:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise ValueError(f"{cidr[:60]!r} is not a network like 10.0.0.0/8 or "
                             "127.0.0.1/32") from None
    return value


def check_database_url(value: Any) -> Any:
    """A PostgreSQL address, or None when set but empty (as compose files do)."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(text, str):
        return value
    if not text.strip():
        return None
    if not text.strip().lower().startswith(POSTGRES_SCHEMES):
        raise ValueError("a PostgreSQL address starts with postgresql://")
    return value


def check_shard_ids(value: tuple[int, ...], count: int | None) -> tuple[int, ...]:
    """The shard ids this process serves, sorted, each within ``count`` and given once."""
    if count is None:
        raise ValueError("set CITEBOT_SHARD_COUNT too: shard ids mean nothing without "
                         "the number of shards every process agrees on")
    if not value:
        raise ValueError("no shard id given; leave it unset to serve every shard")
    outside = sorted({i for i in value if not 0 <= i < count})
    if outside:
        raise ValueError(f"shard ids run from 0 to {count - 1} with CITEBOT_SHARD_COUNT="
                         f"{count}; {', '.join(map(str, outside))} "
                         f"{'is' if len(outside) == 1 else 'are'} outside")
    if len(set(value)) != len(value):
        raise ValueError("a shard id is given twice")
    return tuple(sorted(value))


def describe(error: ValidationError | SettingsError, fields: Iterable[str],
             example: Callable[[str], str]) -> str:
    """A refused setting as a person fixes it, on one line: the variable's name, what is
    wrong and an example (never the value given, which may be a secret)."""
    if isinstance(error, SettingsError):
        found = _PARSE_ERROR.search(str(error))
        problems = [(found.group(1) if found else "", "cannot be read")]
    else:
        problems = [(str(p["loc"][0]) if p["loc"] else "",
                     str(p["msg"]).removeprefix("Value error, ")) for p in error.errors()]
    known = set(fields)
    lines, named = [], set()
    for field, reason in problems:
        if field in named:  # its first problem is enough to fix it
            continue
        named.add(field)
        name = f"CITEBOT_{field.upper()}"
        shown = f"e.g. {name}={example(field)}; " if field in known else ""
        lines.append(f"{name}: {reason} ({shown}set in the environment or .env)")
    return "; ".join(lines)


def example(field: str, default: Any) -> str:
    """A value of the setting as written in the environment (its default if it has one)."""
    if field in EXAMPLES:
        return EXAMPLES[field]
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)
