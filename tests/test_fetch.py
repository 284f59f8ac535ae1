"""Tests for index.fetch against real HTTP servers on loopback addresses.

The fake "public" site listens on 127.0.0.2 (let through with allow_networks), the fake
"internal" service on 127.0.0.1; every SSRF test asserts the internal service saw nothing.
"""

from __future__ import annotations

import codecs
import gzip
import shutil
import socket
import ssl
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from index import fetch as fetch_module
from index.errors import (
    BlockedURLError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    TooLargeError,
    UnsupportedContentError,
)
from index.fetch import FetchPolicy, Resolver, check_address, fetch

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
    with pytest.raises(BlockedURLError):
        check_address("169.254.169.254", policy)
    with pytest.raises(BlockedURLError):
        check_address("192.168.1.1", policy)


def test_malformed_allow_network_fails_at_construction() -> None:
    with pytest.raises(ValueError):
        FetchPolicy(allow_networks=("10.0.0.0/33",))


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
    assert ("br" in accepted) == (fetch_module._BROTLI is not None)  # advertised only if usable


def test_brotli_is_decoded_and_capped(public: FakeSite, policy: FetchPolicy) -> None:
    brotli = pytest.importorskip("brotli")
    if fetch_module._BROTLI is None:
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
