"""Fetch a page whose link a stranger pasted, without letting the link reach inside the network.

Every hop (the first request and each redirect) is checked the same way: http or https only (the
scheme in any case), an allowed port, and a host whose every resolved address is public (or
inside a network the operator explicitly allowed). The host is resolved once; the connection goes
to that checked address, and the address actually connected to is checked again before anything
is sent. HTTPS still verifies the certificate against the host name. Bytes on the wire,
decompressed bytes and time are capped. Proxies from the environment are used (and trusted) only
when the policy says so.

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

import codecs
import http.client
import io
import ipaddress
import re
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urljoin, urlsplit
from urllib.request import getproxies, proxy_bypass

from index.errors import (
    BlockedURLError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    TooLargeError,
    UnsupportedContentError,
)

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def _networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


@dataclass(frozen=True)
class FetchPolicy:
    """Limits and permissions for fetching; the defaults suit a public bot."""

    max_bytes: int = 5_000_000  # bytes on the wire
    max_decoded_bytes: int = 20_000_000  # after gzip/deflate/br decompression
    timeout_s: float = 20.0  # total time for the whole fetch, redirects included
    read_timeout_s: float = 10.0  # per socket read (slow trickle)
    max_redirects: int = 5
    allowed_ports: frozenset[int] = frozenset({80, 443})
    allow_networks: tuple[str, ...] = ()  # CIDRs that bypass the private-address block
    use_env_proxy: bool = False  # proxies from the environment are ignored unless True
    user_agent: str = "citebot/0.1 (+article fetcher)"

    def __post_init__(self) -> None:
        _networks(self.allow_networks)  # a malformed CIDR is a configuration error: fail early
        if "\r" in self.user_agent or "\n" in self.user_agent:
            raise ValueError("user_agent must be a single line")


@dataclass(frozen=True)
class FetchedDocument:
    """A fetched text document, decoded."""

    url: str  # as requested
    final_url: str  # after redirects
    content_type: str  # "text/html" | "text/plain" | "text/markdown"
    text: str
    charset: str  # the charset used to decode


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

_TIMEOUT = "The site took too long to answer, so citebot gave up; try again later."
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TYPES = {"text/html": "text/html", "application/xhtml+xml": "text/html"}
_TYPES |= {"text/plain": "text/plain", "text/markdown": "text/markdown"}
_TYPES |= {"text/x-markdown": "text/markdown"}
_ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,text/markdown;q=0.9,*/*;q=0.1"
_CHUNK = 65_536
_SNIFF_BYTES = 4096
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+", re.IGNORECASE)
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([\w.:-]+)", re.IGNORECASE)
_ODD_CODECS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"})

_BROTLI: Any = None
try:
    import brotli  # type: ignore[import-not-found, unused-ignore]

    # Only brotli >= 1.2 can cap its output, which bomb protection needs.
    if hasattr(brotli.Decompressor(), "can_accept_more_data"):
        _BROTLI = brotli
except ImportError:
    pass
_ACCEPT_ENCODING = "gzip, deflate, br" if _BROTLI else "gzip, deflate"
_DECOMPRESS_ERRORS: tuple[type[Exception], ...] = (
    (zlib.error, _BROTLI.error) if _BROTLI else (zlib.error,)
)


def fetch(
    url: str, policy: FetchPolicy = FetchPolicy(), *, resolver: Resolver | None = None
) -> FetchedDocument:
    """Fetch `url` under `policy`, following redirects; raise a FetchError subclass on refusal.

    `resolver` maps (host, port) to IP address strings; the default is the system resolver.
    """
    deadline = time.monotonic() + policy.timeout_s
    current = url
    for _hop in range(policy.max_redirects + 1):
        target = _parse(current, policy)
        addresses = _resolve(target, resolver or _system_resolver, policy)
        with _translate_errors():
            sock, request_target = _connect(target, addresses, policy, deadline)
            try:
                response = _send(sock, target, request_target, policy, deadline)
                location = _redirect_location(response)
                if location is None:
                    return _read_document(url, current, response, policy)
            finally:
                sock.close()
        current = urljoin(current, location)
    limit = policy.max_redirects
    raise FetchError(f"That link redirected more than {limit} times, so citebot gave up.")


def url_scheme(text: str) -> str | None:
    """The lower-case scheme of `text` if it looks like a URL ("name://..."), else None.

    Tells links from file paths: "HTTP://x" gives "http", "notes/a.txt" and "C:\\a.txt" give None.
    """
    match = _URL_SCHEME.match(text.strip())
    return match.group(1).lower() if match else None


def check_address(ip: str, policy: FetchPolicy) -> None:
    """Raise BlockedURLError unless `ip` may be fetched under `policy` (rules: module docstring)."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])  # a scope id changes nothing here
    except ValueError:
        raise BlockedURLError(f"{ip[:60]!r} is not an IP address citebot can fetch.") from None
    verdict = _block_reason(address, _networks(policy.allow_networks))
    if verdict is None:
        return
    reason, culprit = verdict
    if culprit == address:
        raise BlockedURLError(
            f"That address {_BLOCKED_BECAUSE[reason]}, which citebot does not fetch."
        )
    raise BlockedURLError(
        f"That address carries the IPv4 address {culprit}, which {_BLOCKED_BECAUSE[reason]}; "
        "citebot does not fetch it."
    )


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


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # lower-case ASCII host name, or the canonical IP for literal hosts
    port: int
    path: str  # request target: path and query
    ip: str | None  # set when the link names an IP address directly

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _parse(url: str, policy: FetchPolicy) -> _Target:
    scheme = _checked_scheme(url)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise BlockedURLError("That link is not a valid web address.") from None
    if parts.scheme != scheme:  # urlsplit dropped characters inside the scheme
        raise BlockedURLError("That link is not a valid web address.")
    if parts.username is not None or parts.password is not None:
        raise BlockedURLError("citebot does not fetch links with a user name or password in them.")
    if not parts.hostname:
        raise BlockedURLError("That link has no host name, so there is nothing to fetch.")
    port = port if port is not None else (443 if scheme == "https" else 80)
    if port not in policy.allowed_ports:
        ports = " or ".join(str(p) for p in sorted(policy.allowed_ports))
        raise BlockedURLError(f"citebot only fetches from port {ports}, and this link uses {port}.")
    host, ip = _host(parts.hostname)
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
    return _Target(scheme, host, port, path, ip)


def _checked_scheme(url: str) -> str:
    scheme = url_scheme(url)
    if scheme in ("http", "https"):
        return scheme
    if scheme is None:
        raise BlockedURLError("That is not a web link; citebot fetches http:// and https:// links.")
    raise BlockedURLError(f"citebot only fetches http:// and https:// links, not {scheme}:// ones.")


def _host(hostname: str) -> tuple[str, str | None]:
    """(host to send and resolve, canonical IP if the host is numeric in any spelling)."""
    if ":" in hostname and "%" in hostname:
        raise BlockedURLError("citebot does not fetch links with an IPv6 zone id (a % part).")
    ip = _literal_ip(hostname)
    if ip is not None:
        return ip, ip
    name = _ascii_host(hostname)
    ip = _literal_ip(name)  # IDNA turns full-width digits and dots into an ASCII address
    return ip or name, ip


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


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _resolve(target: _Target, resolver: Resolver, policy: FetchPolicy) -> list[str]:
    """Resolve once and check every address: one private answer spoils the whole host."""
    addresses = [target.ip] if target.ip is not None else []
    if target.ip is None:
        with suppress(OSError, UnicodeError):
            addresses = list(resolver(target.host, target.port))
    if not addresses:
        raise FetchError(f"citebot could not find the site {target.host}; check the link.")
    for address in addresses:
        check_address(address, policy)
    return addresses


@contextmanager
def _translate_errors() -> Iterator[None]:
    try:
        yield
    except TimeoutError:
        raise FetchTimeoutError(_TIMEOUT) from None
    except ssl.SSLCertVerificationError as exc:
        message = "The site's security certificate could not be verified, so it was not trusted."
        raise FetchError(message) from exc
    except ssl.SSLError as exc:
        raise FetchError("citebot could not set up a secure connection to that site.") from exc
    except http.client.HTTPException as exc:
        raise FetchError("The site sent a response citebot could not understand.") from exc
    except OSError as exc:
        raise FetchError("citebot could not connect to that site; it may be down.") from exc


def _budget(deadline: float, read_timeout: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchTimeoutError(_TIMEOUT)
    return min(read_timeout, remaining)


class _DeadlineReader(io.RawIOBase):
    """Reads a socket with every read bounded by the read timeout and the overall deadline.

    http.client only calls `makefile` on its socket, so this also stands in for the socket.
    """

    def __init__(self, sock: socket.socket, deadline: float, read_timeout: float) -> None:
        super().__init__()
        self._sock, self._deadline, self._read_timeout = sock, deadline, read_timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(_budget(self._deadline, self._read_timeout))
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        return io.BufferedReader(self)

    def response(self, method: str) -> http.client.HTTPResponse:
        response = http.client.HTTPResponse(self, method=method)  # type: ignore[arg-type]
        response.begin()
        return response


def _connect(
    target: _Target, addresses: list[str], policy: FetchPolicy, deadline: float
) -> tuple[socket.socket, str]:
    """A connected socket (TLS for https) to a checked address, and the request-line target."""
    proxy = _env_proxy(target) if policy.use_env_proxy else None
    if proxy is None:
        sock, request_target = (
            _connect_direct(addresses, target.port, policy, deadline),
            target.path,
        )
    else:  # the operator's proxy is trusted; it is sent to the checked IP, never the name
        ip = addresses[0]
        pinned = f"[{ip}]:{target.port}" if ":" in ip else f"{ip}:{target.port}"
        sock = socket.create_connection(proxy, timeout=_budget(deadline, policy.read_timeout_s))
        request_target = f"http://{pinned}{target.path}"
        if target.scheme == "https":
            request_target = target.path
            sock.sendall(f"CONNECT {pinned} HTTP/1.1\r\nHost: {pinned}\r\n\r\n".encode())
            reply = _DeadlineReader(sock, deadline, policy.read_timeout_s).response("CONNECT")
            if reply.status != 200:
                sock.close()
                raise FetchError(f"The configured proxy refused that site (HTTP {reply.status}).")
    if target.scheme == "https":
        try:
            sock.settimeout(_budget(deadline, policy.read_timeout_s))
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
        except BaseException:
            sock.close()
            raise
    return sock, request_target


def _connect_direct(
    addresses: list[str], port: int, policy: FetchPolicy, deadline: float
) -> socket.socket:
    error: OSError | None = None
    for ip in addresses:
        sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.settimeout(_budget(deadline, policy.read_timeout_s))
            sock.connect((ip, port))
            peer = str(sock.getpeername()[0])
            if ipaddress.ip_address(peer.split("%")[0]) != ipaddress.ip_address(ip.split("%")[0]):
                raise BlockedURLError("The connection reached an unchecked address, so it stopped.")
            check_address(peer, policy)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
        except BaseException:
            sock.close()
            raise
    raise error or FetchError("citebot could not connect to that site.")


def _env_proxy(target: _Target) -> tuple[str, int] | None:
    proxy = getproxies().get(target.scheme)
    if not proxy or proxy_bypass(target.host):
        return None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return (parts.hostname, parts.port or 80) if parts.hostname else None


def _send(
    sock: socket.socket, target: _Target, request_target: str, policy: FetchPolicy, deadline: float
) -> http.client.HTTPResponse:
    headers = {
        "Host": target.authority,
        "User-Agent": policy.user_agent,
        "Accept": _ACCEPT,
        "Accept-Encoding": _ACCEPT_ENCODING,
        "Connection": "close",
    }
    lines = [f"GET {request_target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    sock.settimeout(_budget(deadline, policy.read_timeout_s))
    sock.sendall("\r\n".join([*lines, "", ""]).encode("latin-1", errors="replace"))
    return _DeadlineReader(sock, deadline, policy.read_timeout_s).response("GET")


def _redirect_location(response: http.client.HTTPResponse) -> str | None:
    """The Location of a redirect, None for a success; raise HTTPStatusError otherwise."""
    status, location = response.status, response.getheader("Location")
    if status in _REDIRECTS and location:
        return location.strip()
    if 200 <= status < 300:
        return None
    reason = "".join(c for c in (response.reason or "") if c.isprintable())[:60]
    label = f"{status} {reason}".strip()
    raise HTTPStatusError(f"The site answered with HTTP {label} instead of the page.")


def _read_document(
    url: str, final_url: str, response: http.client.HTTPResponse, policy: FetchPolicy
) -> FetchedDocument:
    content_type, header_charset = _content_type(response.getheader("Content-Type"))
    if response.length is not None and response.length > policy.max_bytes:
        raise TooLargeError(_too_large(policy.max_bytes))
    decompress = _decompressor(response.getheader("Content-Encoding"))
    parts: list[bytes] = []
    received = decoded = 0
    while chunk := response.read1(_CHUNK):
        received += len(chunk)
        if received > policy.max_bytes:
            raise TooLargeError(_too_large(policy.max_bytes))
        room = policy.max_decoded_bytes - decoded
        try:
            out = decompress(chunk, room + 1)
        except _DECOMPRESS_ERRORS as exc:
            raise FetchError("The site sent a damaged compressed page.") from exc
        if len(out) > room:
            raise TooLargeError(_too_large(policy.max_decoded_bytes, "once decompressed "))
        decoded += len(out)
        parts.append(out)
    body = b"".join(parts)
    charset = _pick_charset(body, header_charset, content_type)
    text = body.decode(charset, errors="replace")
    return FetchedDocument(url, final_url, content_type, text, charset)


def _too_large(limit: int, when: str = "") -> str:
    return f"The page is larger {when}than citebot's limit of {limit:,} bytes."


def _content_type(header: str | None) -> tuple[str, str | None]:
    """Our content type for the header's media type, and the header's charset if any."""
    media_type, _, parameters = (header or "").partition(";")
    media_type = media_type.strip().lower()
    if media_type not in _TYPES:
        shown = f"a {media_type[:60]} file" if media_type else "a file of unknown type"
        message = f"That link points to {shown}; citebot reads web pages, plain text and Markdown."
        raise UnsupportedContentError(message)
    match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", parameters, re.IGNORECASE)
    return _TYPES[media_type], match.group(1) if match else None


def _decompressor(encoding: str | None) -> Callable[[bytes, int], bytes]:
    """A function (data, max_output) -> output that undoes `encoding` incrementally."""
    name = (encoding or "identity").strip().lower()
    if name in ("", "identity"):
        return lambda data, _limit: data
    if name in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(zlib.MAX_WBITS | (32 if name != "deflate" else 0))
        return lambda data, limit: inflater.decompress(data, limit)
    if name == "br" and _BROTLI is not None:
        decompressor = _BROTLI.Decompressor()
        return lambda data, limit: bytes(decompressor.process(data, output_buffer_limit=limit))
    shown = name[:30]
    raise UnsupportedContentError(
        f"The site compressed the page as {shown!r}, which is unsupported."
    )


def _pick_charset(body: bytes, header_charset: str | None, content_type: str) -> str:
    """Byte-order mark, then the document's own declaration, then the header, then a guess."""
    boms = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"))
    for bom, name in (*boms, (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return name
    declared = _declared_charset(body[:_SNIFF_BYTES]) if content_type == "text/html" else None
    return _codec(declared) or _codec(header_charset) or _guess_charset(body)


def _declared_charset(head: bytes) -> str | None:
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    if match is None:
        return None
    name = match.group(1).decode("ascii", errors="replace").lower()
    # A declaration readable as ASCII cannot really be UTF-16/32; the HTML standard says UTF-8.
    return "utf-8" if name.startswith(("utf-16", "utf-32")) else name


def _codec(name: str | None) -> str | None:
    """The Python codec for a charset label, or None if unknown or not a text encoding."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name).name
        b"".decode(codec)
    except LookupError:
        return None
    return None if codec in _ODD_CODECS else codec


def _guess_charset(body: bytes) -> str:
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes
    except ImportError:
        return "utf-8"
    best = from_bytes(body[:200_000]).best()
    return _codec(best.encoding if best else None) or "utf-8"
