"""Tests for index.ingest.fetch (with its address policy and decoding) against real HTTP servers
on loopback addresses.

The fake "public" site listens on 127.0.0.2 (let through with allow_networks), the fake
"internal" service on 127.0.0.1; every SSRF test asserts the internal service saw nothing.
"""

from __future__ import annotations

import codecs
import gzip
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from index.errors import (
    BlockedURLError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    TooLargeError,
    UnsupportedContentError,
)
from index.ingest import decoding
from index.ingest import fetch as fetch_module
from index.ingest.addresses import check_address
from index.ingest.fetch import FetchPolicy, Resolver, fetch, url_scheme

Route = Callable[[BaseHTTPRequestHandler], None]
ARTICLE = (
    b"<html><head><title>Tram vote</title></head><body><p>The council voted.</p></body></html>"
)
BOMB = gzip.compress(b"\0" * 5_000_000)  # about 5 kB on the wire


def reply(
    handler: BaseHTTPRequestHandler,
    body: bytes,
    content_type: str = "text/html; charset=utf-8",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def redirect(location: str) -> Route:
    return lambda h: reply(h, b"", status=302, headers={"Location": location})


def not_found(handler: BaseHTTPRequestHandler) -> None:
    reply(handler, b"<p>no such page</p>", status=404)


class FakeSite:
    """A threaded HTTP(S) server on one loopback address that serves routes and records paths."""

    def __init__(self, host: str, default: Route = not_found, tls: ssl.SSLContext | None = None):
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                site.requests.append(self.path)
                self.close_connection = True
                with suppress(OSError):  # the client hung up, as a careful client should
                    site.routes.get(self.path, default)(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        serve = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        serve.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def trickle(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.end_headers()
    for _ in range(50):
        handler.wfile.write(b"a")
        time.sleep(0.1)


def slow_headers(handler: BaseHTTPRequestHandler) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 50:
        handler.wfile.write(bytes([byte]))
        time.sleep(0.1)


def stall(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.end_headers()
    time.sleep(3)


def endless_chunks(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"a" * 8192
    for _ in range(5000):
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def echo_headers(handler: BaseHTTPRequestHandler) -> None:
    names = ("Host", "User-Agent", "Accept-Encoding")
    reply(handler, "\n".join(f"{n}: {handler.headers[n]}" for n in names).encode(), "text/plain")


def lying_length(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", "50000000")
    handler.end_headers()
    handler.wfile.write(b"<p>short</p>")


@pytest.fixture(scope="module")
def internal() -> Iterator[FakeSite]:
    site = FakeSite("127.0.0.1", default=lambda h: reply(h, b"<p>internal secrets</p>"))
    yield site
    site.close()


@pytest.fixture(scope="module")
def bystander() -> Iterator[FakeSite]:
    """A site at an allowed address but on a port the policy does not allow."""
    site = FakeSite("127.0.0.2", default=lambda h: reply(h, ARTICLE))
    yield site
    site.close()


@pytest.fixture(scope="module")
def public(internal: FakeSite, bystander: FakeSite) -> Iterator[FakeSite]:
    site = FakeSite("127.0.0.2")
    inside = f"127.0.0.1:{internal.port}"
    cyrillic = '<meta charset="windows-1251"><p>Привет, мир</p>'.encode("cp1251")
    greek = '<?xml version="1.0" encoding="ISO-8859-7"?><html><p>Καλημέρα</p></html>'
    site.routes |= {
        "/article": lambda h: reply(h, ARTICLE),
        "/plain": lambda h: reply(h, b"plain words", "text/plain"),
        "/markdown": lambda h: reply(h, b"# Title", "text/x-markdown"),
        "/gzip": lambda h: reply(h, gzip.compress(ARTICLE), headers={"Content-Encoding": "gzip"}),
        "/deflate": lambda h: reply(
            h, zlib.compress(ARTICLE), headers={"Content-Encoding": "deflate"}
        ),
        "/bomb": lambda h: reply(h, BOMB, headers={"Content-Encoding": "gzip"}),
        "/echo-headers": echo_headers,
        "/lying-length": lying_length,
        "/endless-chunks": endless_chunks,
        "/trickle": trickle,
        "/slow-headers": slow_headers,
        "/stall": stall,
        "/png": lambda h: reply(h, b"\x89PNG\r\n", "image/png"),
        "/pdf": lambda h: reply(h, b"%PDF-1.7", "application/pdf"),
        "/meta-charset": lambda h: reply(h, cyrillic, "text/html; charset=utf-8"),
        "/xml-charset": lambda h: reply(h, greek.encode("iso-8859-7"), "application/xhtml+xml"),
        "/header-charset": lambda h: reply(
            h, "<p>Café crème</p>".encode("latin-1"), "text/html; charset=ISO-8859-1"
        ),
        "/error": lambda h: reply(h, b"oops", status=500),
        "/to-internal-name": redirect(f"http://intranet.test:{internal.port}/secret"),
        "/to-internal-ip": redirect(f"http://{inside}/secret"),
        "/to-internal-decimal": redirect(f"http://2130706433:{internal.port}/secret"),
        "/to-mapped-v6": redirect(f"http://[::ffff:127.0.0.1]:{internal.port}/secret"),
        "/to-file": redirect("file:///etc/passwd"),
        "/to-ftp": redirect(f"ftp://news.test:{internal.port}/secret"),
        "/to-other-port": redirect(f"http://news.test:{bystander.port}/article"),
        "/chain/0": lambda h: reply(h, ARTICLE),
    }
    for n in range(1, 7):
        site.routes[f"/chain/{n}"] = redirect(f"/chain/{n - 1}")
    yield site
    site.close()


@pytest.fixture
def policy(public: FakeSite, internal: FakeSite) -> FetchPolicy:
    ports = frozenset({public.port, internal.port})
    return FetchPolicy(allow_networks=("127.0.0.2/32",), allowed_ports=ports, timeout_s=5.0)


HOSTS = {
    "news.test": ["127.0.0.2"],
    "intranet.test": ["127.0.0.1"],
    "mixed.test": ["127.0.0.2", "127.0.0.1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "metadata.test": ["169.254.169.254"],
    "wrong.test": ["127.0.0.2"],
}


def resolver(host: str, port: int) -> list[str]:
    if host not in HOSTS:
        raise socket.gaierror(socket.EAI_NONAME, "unknown test host")
    return list(HOSTS[host])


def url(site: FakeSite, path: str, host: str = "news.test", scheme: str = "http") -> str:
    return f"{scheme}://{host}:{site.port}{path}"


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


# --- Addresses ---------------------------------------------------------------------------


BLOCKED = [
    "127.0.0.1", "10.1.2.3", "172.16.5.4", "192.168.1.1", "169.254.169.254", "169.254.1.1",
    "100.64.0.1", "100.100.100.200", "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255",
    "192.0.2.1", "198.18.0.1", "192.0.0.8", "::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1",
    "fd00:ec2::254", "ff02::1", "fec0::1", "2001:db8::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "::ffff:169.254.169.254", "::127.0.0.1", "64:ff9b::a00:1", "64:ff9b::7f00:1",
    "64:ff9b:1::1", "2002:7f00:1::", "2002:a9fe:a9fe::", "2001:0:4136:e378:8000:63bf:80ff:fffe",
    "not-an-ip", "",
]  # fmt: skip
ALLOWED = [
    "93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700::1111", "2a00:1450:4001:82a::200e",
    "::ffff:93.184.216.34", "2002:5db8:d822::", "64:ff9b::808:808",
]  # fmt: skip


@pytest.mark.parametrize("ip", BLOCKED)
def test_check_address_blocks_non_public_addresses(ip: str) -> None:
    with pytest.raises(BlockedURLError):
        check_address(ip, FetchPolicy())


@pytest.mark.parametrize("ip", ALLOWED)
def test_check_address_allows_public_addresses(ip: str) -> None:
    check_address(ip, FetchPolicy())


def test_check_address_explains_itself() -> None:
    with pytest.raises(BlockedURLError, match="private network"):
        check_address("192.168.0.10", FetchPolicy())
    with pytest.raises(BlockedURLError, match="metadata"):
        check_address("::ffff:169.254.169.254", FetchPolicy())


def test_allow_networks_bypasses_the_private_block_but_never_metadata() -> None:
    policy = FetchPolicy(allow_networks=("10.0.0.0/8", "169.254.0.0/16"))
    check_address("10.1.2.3", policy)
    check_address("::ffff:10.1.2.3", policy)
    for ip in ("169.254.169.254", "169.254.1.1", "192.168.1.1"):  # link-local is never opened
        with pytest.raises(BlockedURLError):
            check_address(ip, policy)


def test_malformed_allow_network_fails_at_construction() -> None:
    with pytest.raises(ValueError):
        FetchPolicy(allow_networks=("10.0.0.0/33",))


def carried_forms(v4: str) -> dict[str, str]:
    """IPv6 spellings of `v4`: each reaches it natively or through a translator or tunnel."""
    packed = ipaddress.IPv4Address(v4).packed
    n = int.from_bytes(packed)
    hi, lo, inverted = f"{n >> 16:x}", f"{n & 0xFFFF:x}", n ^ 0xFFFF_FFFF
    public_client = int(ipaddress.IPv4Address("93.184.216.34")) ^ 0xFFFF_FFFF
    local48 = bytes.fromhex("0064ff9b0001") + packed[:2] + b"\0" + packed[2:] + bytes(5)
    return {
        "mapped": f"::ffff:{v4}",
        "mapped-hex": f"::FFFF:{hi}:{lo}",
        "mapped-long": f"0:0:0:0:0:ffff:{v4}",
        "translated": f"::ffff:0:{v4}",
        "compatible": f"::{v4}",
        "nat64": f"64:ff9b::{v4}",
        "nat64-local-96": f"64:ff9b:1::{v4}",
        "nat64-local-48": str(ipaddress.IPv6Address(local48)),
        "6to4": f"2002:{hi}:{lo}::1",
        "teredo-client": f"2001:0:4136:e378:8000:63bf:{inverted >> 16:x}:{inverted & 0xFFFF:x}",
        "teredo-server": f"2001:0:{hi}:{lo}::{public_client >> 16:x}:{public_client & 0xFFFF:x}",
        "isatap": f"2a00:1450:4001:82a:0:5efe:{v4}",
    }


NEVER_V4 = ["169.254.169.254", "169.254.170.2", "100.100.100.200", "168.63.129.16", "169.254.1.1",
            "0.0.0.0", "0.1.2.3"]  # fmt: skip
NEVER_V6 = ["fd00:ec2::254", "fe80::1", "fe80::a9fe:a9fe", "fe80::1%eth0", "::"]
LOOPBACK = ["127.0.0.1", "127.255.0.9"]
OPEN_EVERYTHING = ("0.0.0.0/0", "::/0", "169.254.0.0/16", "100.64.0.0/10", "fe80::/10", "fd00::/8")
# The red team's allow-lists, plus every other range that carries IPv4 addresses.
BROAD_ALLOW_LISTS = [
    ("::/0",), ("0.0.0.0/0", "::/0"), ("64:ff9b::/96",), ("2002::/16",), ("::ffff:0:0/96",),
    ("64:ff9b:1::/48",), ("2001::/32",), ("::/96",), ("::ffff:0:0:0/96",), ("2a00::/12",),
    OPEN_EVERYTHING,
]  # fmt: skip


def never_fetched() -> list[str]:
    """Loopback, metadata, link-local and all-zero addresses in every spelling."""
    forms = [*NEVER_V4, *NEVER_V6, *LOOPBACK, "::1"]
    for v4 in [*NEVER_V4, *LOOPBACK]:
        forms += carried_forms(v4).values()
    return forms


@pytest.mark.parametrize("allow", BROAD_ALLOW_LISTS, ids=" ".join)
def test_broad_allow_lists_never_open_loopback_metadata_or_carried_forms(
    allow: tuple[str, ...],
) -> None:
    assert let_through(never_fetched(), FetchPolicy(allow_networks=allow)) == []


def let_through(ips: list[str], policy: FetchPolicy) -> list[str]:
    """The addresses of ``ips`` that the policy would fetch."""
    passed = []
    for ip in ips:
        try:
            check_address(ip, policy)
            passed.append(ip)
        except BlockedURLError:
            pass
    return passed


def test_explicit_loopback_allow_lists_open_loopback_but_not_its_carried_forms() -> None:
    policy = FetchPolicy(allow_networks=("127.0.0.0/8", "::1/128", *OPEN_EVERYTHING))
    for ip in [*LOOPBACK, "::1"]:
        check_address(ip, policy)
    carried = [ip for v4 in LOOPBACK for ip in carried_forms(v4).values()]
    assert let_through([*carried, *NEVER_V4, *NEVER_V6], policy) == []


@pytest.mark.parametrize(
    ("allow", "ip", "fetched"),
    [
        (("127.0.0.1/32",), "127.0.0.1", True),
        (("127.0.0.1/32",), "127.0.0.2", False),
        (("127.0.0.0/8",), "127.9.9.9", True),
        (("::1/128",), "::1", True),
        (("::1/128",), "127.0.0.1", False),
        (("127.0.0.0/8",), "::1", False),
        (("0.0.0.0/0",), "127.0.0.1", False),
        (("0.0.0.0/1",), "127.0.0.1", False),
        (("126.0.0.0/7",), "127.0.0.1", False),
        (("::/0",), "::1", False),
        (("::/127",), "::1", False),
        (("::ffff:127.0.0.0/104",), "::ffff:127.0.0.1", False),
        (("127.0.0.0/8", "0.0.0.0/0"), "0.0.0.0", False),
        (("0.0.0.0/0",), "10.0.0.1", True),  # broad lists still open private ranges
        (("0.0.0.0/0",), "::ffff:10.0.0.1", True),
        (("::/0",), "::ffff:10.0.0.1", False),  # an IPv6 range does not open the IPv4 inside
        (("::/0",), "64:ff9b::a00:1", False),
        (("::/0",), "fc00::1", True),
        (("::/0",), "2001:db8::1", True),
        (("10.0.0.0/8",), "2002:a00:1::", True),
    ],
)
def test_allow_list_rule(allow: tuple[str, ...], ip: str, fetched: bool) -> None:
    policy = FetchPolicy(allow_networks=allow)
    if fetched:
        check_address(ip, policy)
    else:
        with pytest.raises(BlockedURLError):
            check_address(ip, policy)


def test_public_addresses_in_carried_forms_still_pass() -> None:
    forms = carried_forms("93.184.216.34")
    for kind in ("mapped", "mapped-hex", "compatible", "nat64", "6to4", "teredo-client", "isatap"):
        check_address(forms[kind], FetchPolicy())
    with pytest.raises(BlockedURLError):  # SIIT is routed only inside a translator's domain
        check_address(forms["translated"], FetchPolicy())
    check_address(forms["translated"], FetchPolicy(allow_networks=("::ffff:0:0:0/96",)))


def test_local_use_nat64_is_read_in_every_layout() -> None:
    """64:ff9b:1::/48 has no fixed layout; one reading of 64:ff9b:1::/96 addresses is 0.0.0.0."""
    policy = FetchPolicy(allow_networks=("64:ff9b:1::/48",))
    check_address("64:ff9b:1:5db8:d8:2200:5db8:d822", policy)  # every reading public
    for ip in ("64:ff9b:1::808:808", "64:ff9b:1:7f00:0:100::", "64:ff9b:1:808:8:800:7f00:1"):
        with pytest.raises(BlockedURLError):
            check_address(ip, policy)


def test_blocked_carried_form_names_the_ipv4_inside() -> None:
    with pytest.raises(BlockedURLError, match=r"carries the IPv4 address 169\.254\.169\.254"):
        check_address("64:ff9b::a9fe:a9fe", FetchPolicy(allow_networks=("::/0",)))


# --- SSRF through real connections ---------------------------------------------------------

LITERAL_HOSTS = [
    "127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "127.1", "127.0.0.1.",
    "0", "0.0.0.0", "[::1]", "[::]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::127.0.0.1]",
    "[64:ff9b::7f00:1]", "[2002:7f00:1::]", "%31%32%37.0.0.1", "news.test@127.0.0.1",
]  # fmt: skip


@pytest.mark.parametrize("host", LITERAL_HOSTS)
def test_literal_internal_addresses_are_refused(
    host: str, internal: FakeSite, policy: FetchPolicy
) -> None:
    with pytest.raises(BlockedURLError):
        fetch(url(internal, "/secret", host), policy, resolver=resolver)
    assert internal.requests == []


@pytest.mark.parametrize("host", ["intranet.test", "mixed.test", "mapped.test", "metadata.test"])
def test_names_resolving_to_internal_addresses_are_refused(
    host: str, public: FakeSite, internal: FakeSite, policy: FetchPolicy
) -> None:
    with pytest.raises(BlockedURLError):
        fetch(url(internal, "/secret", host), policy, resolver=resolver)
    assert internal.requests == [] and public.requests == []


def test_one_internal_answer_spoils_the_whole_host(
    public: FakeSite, internal: FakeSite, policy: FetchPolicy
) -> None:
    """mixed.test answers the reachable public site first: refused before any connection."""
    before = len(public.requests)
    try:
        with pytest.raises(BlockedURLError):
            fetch(url(public, "/article", "mixed.test"), policy, resolver=resolver)
        assert len(public.requests) == before and internal.requests == []
    finally:
        internal.requests.clear()  # a failure here must not fail the tests after it


def test_the_connected_address_is_checked_again(
    internal: FakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were an unchecked address ever to reach the connect, the peer is checked before sending."""
    monkeypatch.setattr(fetch_module, "_resolve", lambda target, resolver, policy: ["127.0.0.1"])
    policy = FetchPolicy(allowed_ports=frozenset({internal.port}))
    try:
        with pytest.raises(BlockedURLError):
            fetch(url(internal, "/secret", "news.test"), policy, resolver=resolver)
        assert internal.requests == []
    finally:
        internal.requests.clear()  # a failure here must not fail the tests after it


def test_links_with_a_user_name_or_password_are_refused(
    public: FakeSite, policy: FetchPolicy
) -> None:
    before = len(public.requests)
    for userinfo in ("user@", "user:secret@", ":secret@"):
        with pytest.raises(BlockedURLError, match="user name or password"):
            fetch(url(public, "/article", userinfo + "news.test"), policy, resolver=resolver)
    assert len(public.requests) == before


def test_system_resolver_answers_are_checked_too(internal: FakeSite, policy: FetchPolicy) -> None:
    with pytest.raises(BlockedURLError):
        fetch(url(internal, "/secret", "localhost"), policy)
    assert internal.requests == []


@pytest.mark.parametrize(
    "path", ["/to-internal-name", "/to-internal-ip", "/to-internal-decimal", "/to-mapped-v6"]
)
def test_redirects_to_internal_addresses_are_refused(
    path: str, public: FakeSite, internal: FakeSite, policy: FetchPolicy
) -> None:
    with pytest.raises(BlockedURLError):
        fetch(url(public, path), policy, resolver=resolver)
    assert internal.requests == []


@pytest.mark.parametrize("path", ["/to-file", "/to-ftp", "/to-other-port"])
def test_redirects_to_other_schemes_and_ports_are_refused(
    path: str, public: FakeSite, internal: FakeSite, bystander: FakeSite, policy: FetchPolicy
) -> None:
    with pytest.raises(BlockedURLError):
        fetch(url(public, path), policy, resolver=resolver)
    assert internal.requests == [] and bystander.requests == []


def test_too_many_redirects_are_refused(public: FakeSite, policy: FetchPolicy) -> None:
    assert fetch(url(public, "/chain/5"), policy, resolver=resolver).text == ARTICLE.decode()
    public.requests.clear()
    with pytest.raises(FetchError, match="redirected more than 5 times"):
        fetch(url(public, "/chain/6"), policy, resolver=resolver)
    assert public.requests == [f"/chain/{n}" for n in range(6, 0, -1)]


def test_redirects_are_followed_and_each_host_resolved_once(
    public: FakeSite, policy: FetchPolicy
) -> None:
    calls: list[str] = []

    def counting(host: str, port: int) -> list[str]:
        calls.append(host)
        return resolver(host, port)

    document = fetch(url(public, "/chain/3"), policy, resolver=counting)
    assert document.final_url == url(public, "/chain/0")
    assert document.url == url(public, "/chain/3")
    assert "The council voted." in document.text
    assert calls == ["news.test"] * 4  # three redirects and the article: one lookup per hop


def test_connects_to_the_checked_address_even_if_dns_changes(
    public: FakeSite, internal: FakeSite, policy: FetchPolicy
) -> None:
    answers = iter([["127.0.0.2"]])
    rebinding: Resolver = lambda host, port: next(answers, ["127.0.0.1"])  # noqa: E731
    assert "The council voted." in fetch(url(public, "/article"), policy, resolver=rebinding).text
    assert internal.requests == []


def test_the_internal_fake_does_count_requests(internal: FakeSite) -> None:
    """The zero-request assertions above mean something only if this one sees a request."""
    allowing = FetchPolicy(
        allow_networks=("127.0.0.1/32",), allowed_ports=frozenset({internal.port})
    )
    before = len(internal.requests)
    assert "internal secrets" in fetch(url(internal, "/probe", "127.0.0.1"), allowing).text
    assert len(internal.requests) == before + 1
    internal.requests.clear()


# --- Loopback in every spelling against a real server on 127.0.0.1 -----------------------------

# URL hosts that mean 127.0.0.1, 0.0.0.0 or ::1, in decimal, hex, octal, short, IPv6-carried and
# zone-id spellings.
LOOPBACK_URL_HOSTS = [
    "127.0.0.1", "127.1", "127.0.1", "0x7f.1", "0x7f.0.0.1", "0x7f000001", "2130706433",
    "017700000001", "0177.0.0.1", "127.000.000.001", "127.0.0.1.", "0", "0.0.0.0", "0x0",
    "localhost", "LOCALHOST.", "１２７.0.0.1", "127。0。0。1", "[::1]", "[::]",
    "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::FFFF:7F00:0001]",
    "[0:0:0:0:0:ffff:7f00:1]", "[::ffff:0.0.0.0]", "[::ffff:0:7f00:1]", "[::127.0.0.1]",
    "[::7f00:1]", "[64:ff9b::7f00:1]", "[64:ff9b::127.0.0.1]", "[64:ff9b:1::7f00:1]",
    "[64:ff9b:1:7f00:0:100::]", "[2002:7f00:1::1]", "[2002:7f00:1::]",
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]", "[2a00:1450:4001:82a:0:5efe:7f00:1]",
    "[::ffff:127.0.0.1%25lo]", "[::1%25lo]", "[::ffff:7f00:1%251]", "[fe80::1%25lo]",
]  # fmt: skip
# Answers a hostile DNS server could give for a name; the odd spellings are not IP addresses.
LOOPBACK_DNS_ANSWERS = [
    "127.0.0.1", "127.1", "0x7f.0.0.1", "2130706433", "0.0.0.0", "::1", "::", "::1%lo",
    "::ffff:127.0.0.1%lo", *carried_forms("127.0.0.1").values(), *carried_forms("0.0.0.0").values(),
]  # fmt: skip
# The red team's allow-lists.
RED_TEAM_ALLOW_LISTS = [
    ("::/0",), ("0.0.0.0/0", "::/0"), ("64:ff9b::/96",), ("2002::/16",), ("::ffff:0:0/96",),
]  # fmt: skip


def hostile_resolver(host: str, port: int) -> list[str]:
    """n<i>.test answers LOOPBACK_DNS_ANSWERS[i]; other names resolve as the test hosts do."""
    if host.startswith("n") and host.endswith(".test") and host[1:-5].isdigit():
        return [LOOPBACK_DNS_ANSWERS[int(host[1:-5])]]
    if host in HOSTS:
        return list(HOSTS[host])
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def loopback_links(port: int) -> list[str]:
    """Every link to the service on 127.0.0.1:`port`, by literal host and by hostile name."""
    literal = [f"http://{host}:{port}/secret" for host in LOOPBACK_URL_HOSTS]
    named = [f"http://n{i}.test:{port}/secret" for i in range(len(LOOPBACK_DNS_ANSWERS))]
    return literal + named


def refusals(links: list[str], policy: FetchPolicy) -> list[tuple[str, str]]:
    """The links that were not refused with BlockedURLError, and what happened instead."""
    missed = []
    for link in links:
        try:
            fetch(link, policy, resolver=hostile_resolver)
            missed.append((link, "fetched"))
        except BlockedURLError:
            pass
        except FetchError as exc:
            missed.append((link, type(exc).__name__))
    return missed


@pytest.mark.parametrize("allow", RED_TEAM_ALLOW_LISTS, ids=" ".join)
def test_no_spelling_of_loopback_reaches_the_local_server(
    allow: tuple[str, ...], public: FakeSite, internal: FakeSite
) -> None:
    ports = frozenset({public.port, internal.port})
    direct = FetchPolicy(allow_networks=allow, allowed_ports=ports, timeout_s=2.0)
    links = loopback_links(internal.port)
    for i, link in enumerate(links):
        public.routes[f"/hop/{i}"] = redirect(link)
    # HTTP headers are Latin-1, so the full-width spellings are only tried directly.
    hops = [url(public, f"/hop/{i}") for i, link in enumerate(links) if link.isascii()]
    # The public fake lives on 127.0.0.2: naming it exactly must not open 127.0.0.1.
    via_public = replace(direct, allow_networks=(*allow, "127.0.0.2/32"))
    before = len(internal.requests)
    missed = refusals(links, direct) + refusals(hops, via_public)
    hits = len(internal.requests) - before
    print(f"allow {list(allow)}: {len(links) + len(hops)} forms tried, {hits} hits")
    assert missed == [] and hits == 0


def test_the_loopback_spellings_do_reach_the_server_when_unchecked(
    internal: FakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The zero-hit test above means something only if these spellings can reach the server."""
    # Patched under the name the transport calls, not where the policy is defined.
    monkeypatch.setattr(fetch_module, "check_address", lambda ip, policy: None)
    policy = FetchPolicy(allowed_ports=frozenset({internal.port}), timeout_s=2.0)
    mapped = LOOPBACK_DNS_ANSWERS.index("::ffff:127.0.0.1")
    hosts = ["127.1", "0x7f.1", "2130706433", "0177.0.0.1", "[::ffff:7f00:1]", f"n{mapped}.test"]
    before = len(internal.requests)
    for host in hosts:
        assert (
            "internal secrets"
            in fetch(url(internal, "/probe", host), policy, resolver=hostile_resolver).text
        )
    assert len(internal.requests) - before == len(hosts)
    internal.requests.clear()


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("[fe80::1%25eth0]", "zone id"),
        ("[::ffff:127.0.0.1%25lo]", "zone id"),
        ("[127.0.0.1]", "not a valid web address"),
        ("127.0.0.1.2.3", "malformed numeric"),
        ("0x1ffffffff", "malformed numeric"),
    ],
)
def test_odd_literal_hosts_are_refused_with_a_reason(
    host: str, message: str, internal: FakeSite
) -> None:
    policy = FetchPolicy(
        allow_networks=("0.0.0.0/0", "::/0"), allowed_ports=frozenset({internal.port})
    )
    with pytest.raises(BlockedURLError, match=message):
        fetch(url(internal, "/secret", host), policy, resolver=hostile_resolver)
    assert internal.requests == []


# --- Schemes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme"),
    [
        ("HTTP://news.test/a", "http"), ("https://news.test/a", "https"),
        ("  Https://news.test", "https"), ("file:///etc/passwd", "file"),
        ("svn+ssh://host/repo", "svn+ssh"), ("gopher://127.0.0.1:70/_x", "gopher"),
        ("articles.txt", None), ("data/articles.jsonl", None), ("/tmp/a.txt", None),
        ("C:\\news\\a.txt", None), ("mailto:desk@news.test", None), ("1http://x", None),
        ("http:/news.test", None), ("", None),
    ],
)  # fmt: skip
def test_url_scheme_tells_links_from_paths(text: str, scheme: str | None) -> None:
    assert url_scheme(text) == scheme


@pytest.mark.parametrize(
    "link",
    ["file:///etc/passwd", "FILE:///etc/passwd", "ftp://news.test/a", "gopher://news.test/_x",
     "javascript:alert(1)", "data:text/html,hi", "news.test/article", "//news.test/article",
     "http:/news.test/article"],
)  # fmt: skip
def test_only_http_and_https_are_fetched(link: str, policy: FetchPolicy) -> None:
    with pytest.raises(BlockedURLError, match=r"http:// and https://"):
        fetch(link, policy, resolver=resolver)


def test_scheme_case_does_not_matter(public: FakeSite, policy: FetchPolicy) -> None:
    link = f"HTTP://news.test:{public.port}/article"
    assert "The council voted." in fetch(link, policy, resolver=resolver).text
    public.routes["/to-upper"] = redirect(f"HtTp://news.test:{public.port}/article")
    assert "The council voted." in fetch(url(public, "/to-upper"), policy, resolver=resolver).text


# --- Proxies ---------------------------------------------------------------------------------


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    site = FakeSite("127.0.0.1", default=lambda h: reply(h, b"<p>via proxy</p>"))
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{site.port}")
        monkeypatch.setenv(name.upper(), f"http://127.0.0.1:{site.port}")
    yield site
    site.close()


def test_proxy_environment_is_ignored_by_default(
    proxy: FakeSite, public: FakeSite, policy: FetchPolicy
) -> None:
    assert "The council voted." in fetch(url(public, "/article"), policy, resolver=resolver).text
    assert proxy.requests == []


def test_proxy_environment_is_used_when_allowed_with_the_checked_address(
    proxy: FakeSite, public: FakeSite, policy: FetchPolicy
) -> None:
    proxied = replace(policy, use_env_proxy=True)
    assert "via proxy" in fetch(url(public, "/article"), proxied, resolver=resolver).text
    assert proxy.requests == [f"http://127.0.0.2:{public.port}/article"]


# --- Sizes, time and content -------------------------------------------------------------------


def test_gzip_and_deflate_are_decoded(public: FakeSite, policy: FetchPolicy) -> None:
    for path in ("/gzip", "/deflate"):
        assert fetch(url(public, path), policy, resolver=resolver).text == ARTICLE.decode()


def test_request_headers(public: FakeSite, policy: FetchPolicy) -> None:
    text = fetch(url(public, "/echo-headers"), policy, resolver=resolver).text
    assert f"Host: news.test:{public.port}" in text
    assert "User-Agent: citebot/0.1" in text
    accepted = text.rsplit("Accept-Encoding: ", 1)[1].split(", ")
    assert accepted[:2] == ["gzip", "deflate"]
    assert ("br" in accepted) == (decoding._brotli() is not None)  # advertised only if usable


def test_brotli_is_decoded_and_capped(public: FakeSite, policy: FetchPolicy) -> None:
    brotli = pytest.importorskip("brotli")
    if decoding._brotli() is None:
        pytest.skip("this brotli cannot cap its output, so citebot does not use it")
    public.routes["/br"] = lambda h: reply(
        h, brotli.compress(ARTICLE), headers={"Content-Encoding": "br"}
    )
    bomb = brotli.compress(b"\0" * 5_000_000)
    public.routes["/br-bomb"] = lambda h: reply(h, bomb, headers={"Content-Encoding": "br"})
    assert fetch(url(public, "/br"), policy, resolver=resolver).text == ARTICLE.decode()
    with pytest.raises(TooLargeError, match="decompressed"):
        fetch(
            url(public, "/br-bomb"), replace(policy, max_decoded_bytes=1_000_000), resolver=resolver
        )


def test_importing_the_fetcher_does_not_probe_for_brotli(tmp_path: Path) -> None:
    (tmp_path / "brotli.py").write_text("raise SystemExit('brotli was imported')\n")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)])}
    code = "import index.ingest.fetch, index.ingest.decoding"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("capped", [True, False])
def test_brotli_is_advertised_only_if_it_can_cap_its_output(
    capped: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = SimpleNamespace(can_accept_more_data=lambda: True) if capped else SimpleNamespace()
    monkeypatch.setitem(sys.modules, "brotli", SimpleNamespace(Decompressor=lambda: state))
    decoding._brotli.cache_clear()
    try:
        assert ("br" in decoding.accept_encoding()) == capped
    finally:
        decoding._brotli.cache_clear()  # the next caller probes the real environment again


def test_gzip_bomb_is_refused(public: FakeSite, policy: FetchPolicy) -> None:
    small = replace(policy, max_decoded_bytes=1_000_000)
    with pytest.raises(TooLargeError, match="decompressed"):
        fetch(url(public, "/bomb"), small, resolver=resolver)


@pytest.mark.parametrize("path", ["/lying-length", "/endless-chunks"])
def test_oversized_bodies_are_refused(path: str, public: FakeSite, policy: FetchPolicy) -> None:
    small = replace(policy, max_bytes=100_000)
    started = time.monotonic()
    with pytest.raises(TooLargeError, match="limit of 100,000 bytes"):
        fetch(url(public, path), small, resolver=resolver)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("path", ["/trickle", "/slow-headers"])
def test_slow_trickle_hits_the_total_deadline(
    path: str, public: FakeSite, policy: FetchPolicy
) -> None:
    hasty = replace(policy, timeout_s=1.0, read_timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError):
        fetch(url(public, path), hasty, resolver=resolver)
    assert 0.9 < time.monotonic() - started < 1.8


def test_stalled_read_hits_the_read_timeout(public: FakeSite, policy: FetchPolicy) -> None:
    impatient = replace(policy, read_timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError):
        fetch(url(public, "/stall"), impatient, resolver=resolver)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("path", ["/png", "/pdf"])
def test_non_text_content_is_refused(path: str, public: FakeSite, policy: FetchPolicy) -> None:
    with pytest.raises(UnsupportedContentError):
        fetch(url(public, path), policy, resolver=resolver)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/plain", "text/plain"), ("/markdown", "text/markdown"), ("/xml-charset", "text/html")],
)
def test_text_types_are_accepted(
    path: str, content_type: str, public: FakeSite, policy: FetchPolicy
) -> None:
    assert fetch(url(public, path), policy, resolver=resolver).content_type == content_type


@pytest.mark.parametrize(
    ("path", "charset", "text"),
    [
        ("/meta-charset", "windows-1251", "Привет, мир"),
        ("/xml-charset", "iso-8859-7", "Καλημέρα"),
        ("/header-charset", "latin-1", "Café crème"),
        ("/article", "utf-8", "The council voted."),
    ],
)
def test_charset_comes_from_the_document_then_the_header(
    path: str, charset: str, text: str, public: FakeSite, policy: FetchPolicy
) -> None:
    document = fetch(url(public, path), policy, resolver=resolver)
    assert codecs.lookup(document.charset).name == codecs.lookup(charset).name
    assert text in document.text


@pytest.mark.parametrize(("path", "status"), [("/missing", "404"), ("/error", "500")])
def test_error_statuses_raise(
    path: str, status: str, public: FakeSite, policy: FetchPolicy
) -> None:
    with pytest.raises(HTTPStatusError, match=status):
        fetch(url(public, path), policy, resolver=resolver)


def test_unknown_host_is_a_clear_fetch_error(policy: FetchPolicy, public: FakeSite) -> None:
    with pytest.raises(FetchError, match=r"could not find the site nowhere\.test"):
        fetch(url(public, "/article", "nowhere.test"), policy, resolver=resolver)


# --- HTTPS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
         "-days", "2", "-subj", "/CN=news.test", "-addext", "subjectAltName=DNS:news.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def tls_site(certificate: Path) -> Iterator[tuple[FakeSite, list[str | None]]]:
    server_names: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    context.sni_callback = lambda _sock, name, _context: server_names.append(name)  # type: ignore[func-returns-value]
    site = FakeSite("127.0.0.2", default=lambda h: reply(h, ARTICLE), tls=context)
    yield site, server_names
    site.close()


@pytest.fixture
def tls_policy(tls_site: tuple[FakeSite, list[str | None]]) -> FetchPolicy:
    return FetchPolicy(
        allow_networks=("127.0.0.2/32",), allowed_ports=frozenset({tls_site[0].port})
    )


def test_https_verifies_the_name_on_the_pinned_address(
    tls_site: tuple[FakeSite, list[str | None]],
    tls_policy: FetchPolicy,
    certificate: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site, server_names = tls_site
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate / "cert.pem"))
    document = fetch(url(site, "/article", scheme="https"), tls_policy, resolver=resolver)
    assert "The council voted." in document.text
    assert server_names[-1] == "news.test"


def test_https_refuses_a_certificate_for_another_name(
    tls_site: tuple[FakeSite, list[str | None]],
    tls_policy: FetchPolicy,
    certificate: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate / "cert.pem"))
    with pytest.raises(FetchError, match="certificate"):
        fetch(url(tls_site[0], "/article", "wrong.test", "https"), tls_policy, resolver=resolver)


def test_https_refuses_an_untrusted_certificate(
    tls_site: tuple[FakeSite, list[str | None]], tls_policy: FetchPolicy
) -> None:
    before = len(tls_site[0].requests)
    with pytest.raises(FetchError, match="certificate"):
        fetch(url(tls_site[0], "/article", scheme="https"), tls_policy, resolver=resolver)
    assert len(tls_site[0].requests) == before
