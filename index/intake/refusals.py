"""Whether a feed was refused by this server's settings rather than by its own doing.

A feed whose own address uses a port outside CITEBOT_FETCH_ALLOW_PORTS, or whose host is in a
private or loopback range outside CITEBOT_FETCH_ALLOW_NETWORKS, is refused until an operator
changes a setting (say, a cron job run without the variables the bot has): that is not the
feed's fault, so it is reported and tried again later, never counted toward pausing. A refusal
no setting can lift (a redirect inside, a metadata address, another scheme) is the feed's.
"""

from __future__ import annotations

import socket
from dataclasses import replace
from urllib.parse import urlsplit

from index.errors import BlockedURLError
from index.ingest.addresses import check_address, parse_host
from index.ingest.fetch import FetchPolicy, Resolver

PORTS_SETTING = "CITEBOT_FETCH_ALLOW_PORTS"
NETWORKS_SETTING = "CITEBOT_FETCH_ALLOW_NETWORKS"
_EVERYWHERE = ("0.0.0.0/0", "::/0", "127.0.0.0/8", "::1/128")


def refusing_setting(url: str, policy: FetchPolicy, resolver: Resolver | None) -> str | None:
    """The setting that refuses `url` itself (its port, or its host's addresses) and could
    allow it; None when `url` itself passes or no setting could allow it."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if port not in policy.allowed_ports:
        return PORTS_SETTING
    try:
        host, ip = parse_host(parts.hostname)
        addresses = [ip] if ip else list((resolver or _system)(host, port))
    except (BlockedURLError, OSError, UnicodeError, ValueError):
        return None
    opened = replace(policy, allow_networks=_EVERYWHERE)
    verdict = None
    for address in addresses:
        try:
            check_address(address, policy)
        except BlockedURLError:
            try:
                check_address(address, opened)
            except BlockedURLError:
                return None  # never fetched, whatever the settings say
            verdict = NETWORKS_SETTING
    return verdict


def advice(reason: str, setting: str) -> str:
    """The refusal's reason, then what the operator can do."""
    return (f"{reason.rstrip('.')}. A setting refuses it, not the feed: allow it in {setting} "
            "and the next poll works.")


def _system(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
