"""Which addresses a fetch may reach: the SSRF guard's address policy.

How an address is judged (`check_address`), whatever its textual form (decimal, hex, octal or
short IPv4 such as "127.1", or an IPv6 literal; an IPv6 zone id in a link is refused):

- Never fetched, whatever `allow_networks` says: cloud metadata services (169.254.169.254,
  169.254.170.2, 100.100.100.200, 168.63.129.16, fd00:ec2::254), all link-local addresses
  (169.254.0.0/16, fe80::/10) and the all-zero ranges (0.0.0.0/8, ::).
- Loopback (127.0.0.0/8, ::1) is fetched only when an allowed network is itself inside
  127.0.0.0/8 or is ::1/128, e.g. "127.0.0.1/32"; a broader network such as "0.0.0.0/0" or "::/0"
  never opens it.
- An IPv6 address that carries an IPv4 one (IPv4-mapped ::ffff:0:0/96, IPv4-translated
  ::ffff:0:0:0/96, IPv4-compatible ::/96, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16,
  Teredo 2001::/32 (server and client), ISATAP) is judged by the IPv6 address and by every IPv4
  address it carries; both must pass. A carried IPv4 address never counts as loopback-allowed, and
  allowing an IPv6 range does not allow the IPv4 addresses carried inside it. The locally routed
  prefixes (SIIT, 64:ff9b:1::/48) must themselves be allowed first; the local-use NAT64 prefix
  has no fixed layout, so every RFC 6052 layout is read and each reading must pass.
- Anything else is fetched if it is public or inside one of `allow_networks`.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from functools import lru_cache
from typing import Protocol

from index.errors import BlockedURLError


class NetworkPolicy(Protocol):
    """What judging an address reads of a fetch policy (``index.ingest.fetch.FetchPolicy``)."""

    @property
    def allow_networks(self) -> tuple[str, ...]: ...


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _nets(cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs.split())


# Refused whatever allow_networks says (metadata: AWS, ECS, Alibaba, Azure, AWS over IPv6).
_METADATA = _nets("169.254.169.254/32 169.254.170.2/32 100.100.100.200/32 168.63.129.16/32")
_METADATA += _nets("fd00:ec2::254/128")
_NEVER = (
    ("metadata", _METADATA),
    ("link-local", _nets("169.254.0.0/16 fe80::/10")),
    ("unspecified", _nets("0.0.0.0/8 ::/128")),  # Linux connects 0.0.0.0 to the machine itself
)
_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_V6 = ipaddress.IPv6Network("::1/128")
_PRIVATE = _nets("10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7")
_SHARED = _nets("100.64.0.0/10")  # carrier-grade NAT
# Special-use ranges that some Python versions still call global.
_SPECIAL = _nets("192.0.0.0/24 198.18.0.0/15 64:ff9b:1::/48 3fff::/20 fec0::/10 5f00::/16")
# IPv6 prefixes whose addresses carry an IPv4 one in their last 32 bits: mapped, translated
# (SIIT), compatible (excluding :: and ::1), NAT64 well-known prefix.
_LOW32_CARRIERS = _nets("::ffff:0:0/96 ::ffff:0:0:0/96 ::/96 64:ff9b::/96")
# Public prefixes that only wrap an IPv4 address: judged by the IPv4 inside, not by the prefix.
# (The SIIT prefix ::ffff:0:0:0/96 is not one: it is routed only inside a translator's domain.)
_CARRIERS = _nets("::ffff:0:0/96 ::/96 64:ff9b::/96 2002::/16 2001::/32")
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
# RFC 6052 layouts ((shift, width) pieces, high first) for /48, /56, /64 and /96 prefixes;
# bits 64-71 (the "u" octet) never carry address bits.
_NAT64_LAYOUTS = (((64, 16), (40, 16)), ((64, 8), (32, 24)), ((24, 32),), ((0, 32),))
_ISATAP = frozenset({0x0000_5EFE, 0x0200_5EFE})  # interface identifier ::0:5efe:a.b.c.d
_BLOCKED_BECAUSE = {
    "metadata": "belongs to a cloud metadata service",
    "loopback": "points back at the bot's own machine",
    "private": "points to a private network",
    "link-local": "is a link-local address",
    "shared": "is in a carrier-grade NAT range",
    "multicast": "is a multicast address",
    "unspecified": "is an all-zero ('this network') address",
    "special": "is reserved for special use, not a public site",
}
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+", re.IGNORECASE)
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")


@lru_cache(maxsize=32)
def allowed_networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """The networks an allow-list names; ValueError for a malformed CIDR."""
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def check_address(ip: str, policy: NetworkPolicy) -> None:
    """Raise BlockedURLError unless `ip` may be fetched under `policy` (rules: module docstring)."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])  # a scope id changes nothing here
    except ValueError:
        raise BlockedURLError(f"{ip[:60]!r} is not an IP address citebot can fetch.") from None
    verdict = _block_reason(address, allowed_networks(policy.allow_networks))
    if verdict is None:
        return
    reason, culprit = verdict
    if culprit == address:
        raise BlockedURLError(
            f"That address {_BLOCKED_BECAUSE[reason]}, which citebot does not fetch.",
            allowed_by=_allowing(address, policy) if reason not in _NEVER_REASONS else None,
        )
    raise BlockedURLError(
        f"That address carries the IPv4 address {culprit}, which {_BLOCKED_BECAUSE[reason]}; "
        "citebot does not fetch it."
    )


_NEVER_REASONS = frozenset(reason for reason, _ in _NEVER)


def _allowing(address: IPAddress, policy: NetworkPolicy) -> str:
    """The allow-list setting that would open this one address, keeping what it allows."""
    own = f"{address}/{address.max_prefixlen}"
    return "CITEBOT_FETCH_ALLOW_NETWORKS=" + ",".join((*policy.allow_networks, own))


def parse_host(hostname: str) -> tuple[str, str | None]:
    """(host to send and resolve, canonical IP if the host is numeric in any spelling).

    Raises BlockedURLError for an IPv6 zone id, a malformed numeric address or an invalid name.
    """
    if ":" in hostname and "%" in hostname:
        raise BlockedURLError("citebot does not fetch links with an IPv6 zone id (a % part).")
    ip = _literal_ip(hostname)
    if ip is not None:
        return ip, ip
    name = _ascii_host(hostname)
    ip = _literal_ip(name)  # IDNA turns full-width digits and dots into an ASCII address
    return ip or name, ip


def _block_reason(
    address: IPAddress, allowed: tuple[IPNetwork, ...]
) -> tuple[str, IPAddress] | None:
    """Why `address` is refused and which address decided it (itself or an IPv4 it carries)."""
    reason = _own_reason(address, allowed, carried=False)
    if reason is not None:
        return reason, address
    if isinstance(address, ipaddress.IPv6Address):
        for inner in _embedded_ipv4(address):
            if (reason := _own_reason(inner, allowed, carried=True)) is not None:
                return reason, inner
    return None


def _own_reason(address: IPAddress, allowed: tuple[IPNetwork, ...], *, carried: bool) -> str | None:
    never = next((reason for reason, nets in _NEVER if _within(address, nets)), None)
    if never is not None:
        return never
    if address in _LOOPBACK_V4 or address in _LOOPBACK_V6:
        opened = not carried and any(address in n and _names_loopback(n) for n in allowed)
        return None if opened else "loopback"
    if _within(address, allowed) or _within(address, _CARRIERS):
        return None
    return _category(address)


def _within(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in networks)


def _names_loopback(network: IPNetwork) -> bool:
    """True for an allow-list entry that is itself a loopback network, not a wider one."""
    if isinstance(network, ipaddress.IPv4Network):
        return network.subnet_of(_LOOPBACK_V4)
    return network == _LOOPBACK_V6


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 one can carry, i.e. that a connection to it may reach."""
    value = int(address)
    if value >> 1 == 0:  # :: and ::1 are themselves, not IPv4-compatible addresses
        return []
    if address.teredo:
        return list(address.teredo)
    if address.sixtofour:
        return [address.sixtofour]
    if address in _LOCAL_NAT64:
        return [ipaddress.IPv4Address(_bits(value, layout)) for layout in _NAT64_LAYOUTS]
    if _within(address, _LOW32_CARRIERS) or (value >> 32) & 0xFFFF_FFFF in _ISATAP:
        return [ipaddress.IPv4Address(value & 0xFFFF_FFFF)]
    return []


def _bits(value: int, layout: tuple[tuple[int, int], ...]) -> int:
    result = 0
    for shift, width in layout:
        result = (result << width) | ((value >> shift) & ((1 << width) - 1))
    return result


def _category(address: IPAddress) -> str | None:
    flags = {
        "multicast": address.is_multicast,
        "shared": _within(address, _SHARED),
        "private": _within(address, _PRIVATE),
        "special": address.is_private or address.is_reserved or not address.is_global,
    }
    flags["special"] = flags["special"] or _within(address, _SPECIAL)
    return next((reason for reason, flagged in flags.items() if flagged), None)


def _literal_ip(host: str) -> str | None:
    """The canonical IP a numeric host means (inet_aton forms such as "127.1" too), else None."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    bare = host.rstrip(".")
    if not all(_NUMERIC_LABEL.fullmatch(label) for label in bare.split(".")):
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(bare))
    except OSError:
        raise BlockedURLError("That link uses a malformed numeric address.") from None


def _ascii_host(host: str) -> str:
    try:
        name = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        name = ""
    if not _HOST_NAME.fullmatch(name):
        raise BlockedURLError("That link's host name is not valid.")
    return name.rstrip(".")
