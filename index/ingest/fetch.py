"""Fetch a page whose link a stranger pasted, without letting the link reach inside the network.

Every hop (the first request and each redirect) is checked the same way: http or https only (the
scheme in any case), an allowed port, and a host whose every resolved address is public (or
inside a network the operator explicitly allowed). The host is resolved once; the connection goes
to that checked address, and the address actually connected to is checked again before anything
is sent. HTTPS still verifies the certificate against the host name. Bytes on the wire,
decompressed bytes and time are capped. Proxies from the environment are used (and trusted) only
when the policy says so.

Which addresses pass is decided in `index.ingest.addresses` (the rules are in its docstring);
decompression and the choice of charset are in `index.ingest.decoding`.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
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
from index.ingest.addresses import allowed_networks, check_address, parse_host
from index.ingest.decoding import accept_encoding, decompressor, pick_charset
from index.ingest.headers import CONDITIONAL, KEPT_HEADERS, retry_after, sendable

Resolver = Callable[[str, int], list[str]]


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
        # A malformed CIDR is a configuration error: fail when the policy is built.
        allowed_networks(self.allow_networks)
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


@dataclass(frozen=True)
class Response:
    """A fetched response, not decoded: 200, or 304 (with no body) to a conditional request."""

    url: str  # as requested
    final_url: str  # after redirects
    status: int
    media_type: str  # lower-case, without parameters
    charset: str | None  # the Content-Type header's, if any
    body: bytes  # Content-Encoding undone
    headers: dict[str, str] = field(default_factory=dict)  # headers.KEPT_HEADERS only


_TIMEOUT = "The site took too long to answer, so citebot gave up; try again later."
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TYPES = {"text/html": "text/html", "application/xhtml+xml": "text/html"}
_TYPES |= {"text/plain": "text/plain", "text/markdown": "text/markdown"}
_TYPES |= {"text/x-markdown": "text/markdown"}
_ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,text/markdown;q=0.9,*/*;q=0.1"
_CHUNK = 65_536
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def fetch(
    url: str, policy: FetchPolicy = FetchPolicy(), *, resolver: Resolver | None = None
) -> FetchedDocument:
    """Fetch `url` under `policy`, following redirects; raise a FetchError subclass on refusal.

    `resolver` maps (host, port) to IP address strings; the default is the system resolver.
    """
    response = fetch_response(url, policy, resolver=resolver, media_types=_TYPES)
    kind = _TYPES[response.media_type]
    charset = pick_charset(response.body, response.charset, kind)
    text = response.body.decode(charset, errors="replace")
    return FetchedDocument(url, response.final_url, kind, text, charset)


def fetch_response(
    url: str, policy: FetchPolicy = FetchPolicy(), *, resolver: Resolver | None = None,
    media_types: Collection[str] = tuple(_TYPES), accept: str = _ACCEPT,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Fetch `url` as `fetch` does (the same checks on every hop), accepting `media_types`, with
    extra request `headers` (only If-None-Match and If-Modified-Since; a 304 is then an answer).
    """
    conditional = {k: v for k, v in (headers or {}).items()
                   if k in CONDITIONAL and sendable(v)}
    deadline = time.monotonic() + policy.timeout_s
    current = url
    for hop in range(policy.max_redirects + 1):
        try:
            target = _parse(current, policy)
            addresses = _resolve(target, resolver or _system_resolver, policy)
        except BlockedURLError as exc:
            exc.redirected = hop > 0  # the link's own address, or where it led
            raise
        with _translate_errors():
            sock, request_target = _connect(target, addresses, policy, deadline)
            try:
                response = _send(sock, target, request_target, policy, deadline,
                                 accept=accept, extra=conditional)
                location = _redirect_location(response, conditional=bool(conditional))
                if location is None:
                    return _read_response(url, current, response, policy, media_types)
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
    if _NOT_TEXT.search(url):  # bytes of another encoding (surrogate escapes), NUL, controls
        raise BlockedURLError("That link is not a valid web address: it holds characters that "
                              "are not text; copy it again from the browser's address bar.")
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
        ports = sorted(policy.allowed_ports)
        raise BlockedURLError(
            f"citebot only fetches from port {' or '.join(map(str, ports))}, and this link "
            f"uses {port}.",
            allowed_by="CITEBOT_FETCH_ALLOW_PORTS=" + ",".join(map(str, sorted({*ports, port}))))
    host, ip = parse_host(parts.hostname)
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
    return _Target(scheme, host, port, path, ip)


_NOT_TEXT = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def _checked_scheme(url: str) -> str:
    scheme = url_scheme(url)
    if scheme in ("http", "https"):
        return scheme
    if scheme is None:
        raise BlockedURLError("That is not a web link; citebot fetches http:// and https:// links.")
    raise BlockedURLError(f"citebot only fetches http:// and https:// links, not {scheme}:// ones.")


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _resolve(target: _Target, resolver: Resolver, policy: FetchPolicy) -> list[str]:
    """Resolve once and check every address: one private answer spoils the whole host. Of
    several refusals, one that no setting lifts is the one raised (no ``allowed_by``)."""
    addresses = [target.ip] if target.ip is not None else []
    if target.ip is None:
        with suppress(OSError, UnicodeError):
            addresses = list(resolver(target.host, target.port))
    if not addresses:
        raise FetchError(f"citebot could not find the site {target.host}; check the link.")
    refused: list[BlockedURLError] = []
    for address in addresses:
        try:
            check_address(address, policy)
        except BlockedURLError as exc:
            refused.append(exc)
    if refused:
        raise next((r for r in refused if r.allowed_by is None), refused[0])
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
    sock: socket.socket, target: _Target, request_target: str, policy: FetchPolicy,
    deadline: float, *, accept: str, extra: dict[str, str],
) -> http.client.HTTPResponse:
    headers = {
        "Host": target.authority,
        "User-Agent": policy.user_agent,
        "Accept": accept,
        "Accept-Encoding": accept_encoding(),
        "Connection": "close",
        **extra,
    }
    lines = [f"GET {request_target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    sock.settimeout(_budget(deadline, policy.read_timeout_s))
    sock.sendall("\r\n".join([*lines, "", ""]).encode("latin-1", errors="replace"))
    return _DeadlineReader(sock, deadline, policy.read_timeout_s).response("GET")


def _redirect_location(response: http.client.HTTPResponse, *, conditional: bool) -> str | None:
    """The Location of a redirect, None for a success (a 304 too, to a conditional request);
    raise HTTPStatusError otherwise."""
    status, location = response.status, response.getheader("Location")
    if status in _REDIRECTS and location:
        return location.strip()
    if 200 <= status < 300 or (status == 304 and conditional):
        return None
    reason = "".join(c for c in (response.reason or "") if c.isprintable())[:60]
    label = f"{status} {reason}".strip()
    raise HTTPStatusError(f"The site answered with HTTP {label} instead of the page.",
                          status=status, retry_after=retry_after(response.getheader("Retry-After")))


def _read_response(
    url: str, final_url: str, response: http.client.HTTPResponse, policy: FetchPolicy,
    media_types: Collection[str],
) -> Response:
    kept = {name: value for name in KEPT_HEADERS
            if (value := (response.getheader(name) or "").strip())}
    if response.status == 304:
        return Response(url, final_url, 304, "", None, b"", kept)
    media_type, header_charset = _content_type(response.getheader("Content-Type"), media_types)
    if response.length is not None and response.length > policy.max_bytes:
        raise TooLargeError(_too_large(policy.max_bytes))
    decompress = decompressor(response.getheader("Content-Encoding"), policy.max_decoded_bytes)
    parts: list[bytes] = []
    received = 0
    while chunk := response.read1(_CHUNK):
        received += len(chunk)
        if received > policy.max_bytes:
            raise TooLargeError(_too_large(policy.max_bytes))
        parts.append(decompress(chunk))
    return Response(url, final_url, response.status, media_type, header_charset,
                    b"".join(parts), kept)


def _too_large(limit: int) -> str:
    return f"The page is larger than citebot's limit of {limit:,} bytes."


def _content_type(header: str | None, accepted: Collection[str]) -> tuple[str, str | None]:
    """The header's media type (refused unless `accepted`), and its charset if any."""
    media_type, _, parameters = (header or "").partition(";")
    media_type = media_type.strip().lower()
    if media_type not in accepted:
        shown = f"a {media_type[:60]} file" if media_type else "a file of unknown type"
        message = f"That link points to {shown}; citebot reads web pages, plain text and Markdown."
        raise UnsupportedContentError(message)
    match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", parameters, re.IGNORECASE)
    return media_type, match.group(1) if match else None
