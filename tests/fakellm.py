"""A fake OpenAI-compatible server on 127.0.0.1 with scripted answers, for tests and the
benchmark: ``POST /v1/chat/completions``, streaming (server-sent events over chunked
transfer encoding) and not, and every way a real server fails (a status, a stall, a stream cut
mid-chunk, a body that is not a completion).

A script is a function of the request (`Prompt`: the question, the sentence ids it was
given) to a `Reply`; every wait is bounded and ends when the server stops.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1_000_000
MAX_WAIT_S = 30.0  # no scripted stall outlives this, nor the server


@dataclass
class Reply:
    """What the fake answers: ``text`` in ``pieces`` stream chunks, or a failure."""

    text: str = ""
    status: int = 200
    stall_s: float = 0.0  # wait before the first byte (the whole body when not streaming)
    stall_after: int | None = None  # stream: chunks sent before a stall of ``stall_s``
    break_after: int | None = None  # stream: chunks sent before the connection is cut
    malformed: bool = False  # a body that is not a completion
    pieces: int = 6
    pace_s: float = 0.0  # stream: pause before each chunk (a model writing at its pace)
    finish: bool = True  # stream: whether the last chunk carries a finish_reason
    keepalive_s: float | None = None  # stream: only keep-alive comments, one every this often
    body_bytes: int = 0  # a reply this large (padding before the completion, or comments)
    gzip: bool = False  # whole: the body gzip-compressed, whatever the client asked for


@dataclass
class Prompt:
    """A request the fake received, made easy to script against."""

    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, str]]:
        return list(self.body.get("messages") or [])

    @property
    def system(self) -> str:
        return next((m["content"] for m in self.messages if m.get("role") == "system"), "")

    @property
    def user(self) -> str:
        return next((m["content"] for m in self.messages if m.get("role") == "user"), "")

    @property
    def rewrite(self) -> bool:
        """A request to make a follow-up standalone (not to answer)."""
        return "standalone" in self.system

    @property
    def question(self) -> str:
        for line in self.user.splitlines():
            for head in ("Question (JSON): ", "Last question (JSON): "):
                if line.startswith(head):
                    return str(json.loads(line[len(head):]))
        return ""

    @property
    def sentences(self) -> dict[str, str]:
        """Every sentence id the model was given, and its text."""
        found: dict[str, str] = {}
        for line in self.user.splitlines():
            if line.startswith("{") and '"sentences"' in line:
                for s in json.loads(line)["sentences"]:
                    found[s["id"]] = s["text"]
        return found

    def sid(self, fragment: str) -> str:
        """The id of the sentence containing ``fragment`` (KeyError if none was given)."""
        for sid, text in self.sentences.items():
            if fragment in text:
                return sid
        raise KeyError(f"no sentence given contains {fragment!r}")


Script = Callable[[Prompt], Reply]


@dataclass
class FakeLLM:
    """The server; use as a context manager. ``base_url`` is what CITEBOT_LLM_BASE_URL takes."""

    script: Script
    api_key: str | None = None  # when set, requests without it get a 401
    requests: list[Prompt] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)  # bytes of each reply's body sent so far

    def __post_init__(self) -> None:
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.answering = 0  # requests still being answered (a client that left ends one)
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(MAX_WAIT_S)

    def wait(self, seconds: float) -> None:
        self.stopping.wait(min(seconds, MAX_WAIT_S))


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer (it gave up, as it should) is not an error."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):
            super().handle_error(request, client_address)


def _chunks(text: str, pieces: int) -> list[str]:
    """``text`` cut into about ``pieces`` parts (at least one)."""
    if not text:
        return [""]
    size = max(1, -(-len(text) // max(1, pieces)))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _completion(text: str) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": "fake", "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def _chunk(text: str | None, finish: str | None) -> dict[str, Any]:
    delta = {"content": text} if text is not None else {}
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
            "model": "fake", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            with fake.lock:
                fake.answering += 1
                fake.sent.append(0)
                self.slot = len(fake.sent) - 1
            try:
                self._answer()
            except OSError:  # the client went away, as it should at its deadline
                self.close_connection = True
            finally:
                with fake.lock:
                    fake.answering -= 1

        def _answer(self) -> None:
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            body = json.loads(self.rfile.read(length) or b"{}")
            prompt = Prompt(body)
            fake.requests.append(prompt)
            fake.headers.append(dict(self.headers))
            if not self.path.endswith("/chat/completions"):
                return self._status(404, "not found")
            if fake.api_key and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                return self._status(401, "bad key")
            reply = fake.script(prompt)
            if reply.status != 200:
                return self._status(reply.status, "scripted failure")
            if body.get("stream"):
                return self._stream(reply)
            if reply.stall_s:
                fake.wait(reply.stall_s)
            if reply.gzip:
                return self._gzipped(reply)
            if reply.body_bytes:
                return self._huge(reply)
            data = b"<html>not json" if reply.malformed else json.dumps(
                _completion(reply.text)).encode()
            self._send(200, data)

        def _status(self, status: int, message: str) -> None:
            data = json.dumps({"error": {"message": message, "type": "fake",
                                         "code": status}}).encode()
            self._send(status, data, {"Retry-After": "1"} if status == 429 else None)

        def _send(self, status: int, data: bytes, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _write_chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
            with fake.lock:
                fake.sent[self.slot] += len(data)

        def _gzipped(self, reply: Reply) -> None:
            """The completion after ``body_bytes`` of whitespace, gzip-compressed (a bomb:
            a few hundred KiB that unpack to the whole)."""
            packer = zlib.compressobj(9, zlib.DEFLATED, 31)
            block = b" " * 2**20
            parts = [packer.compress(block) for _ in range(reply.body_bytes // len(block))]
            parts += [packer.compress(json.dumps(_completion(reply.text)).encode()),
                      packer.flush()]
            self._send(200, b"".join(parts), {"Content-Encoding": "gzip"})
            with fake.lock:
                fake.sent[self.slot] += sum(len(p) for p in parts)

        def _huge(self, reply: Reply) -> None:
            """A whole completion after ``body_bytes`` of whitespace (valid JSON), sent a
            mebibyte at a time, ``pace_s`` apart."""
            data = json.dumps(_completion(reply.text)).encode()
            padding = max(0, reply.body_bytes - len(data))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(padding + len(data)))
            self.end_headers()
            piece = b" " * 2**20
            while padding > 0 and not fake.stopping.is_set():
                block = piece[:padding]
                self.wfile.write(block)
                with fake.lock:
                    fake.sent[self.slot] += len(block)
                padding -= len(block)
                if reply.pace_s:
                    fake.wait(reply.pace_s)
            self.wfile.write(data)

        def _comments(self, reply: Reply) -> None:
            """Keep-alive comments only (``keepalive_s`` apart), or ``body_bytes`` of
            comments a mebibyte at a time, until the client leaves or the server stops."""
            sent = 0
            until = time.monotonic() + MAX_WAIT_S
            big = b": " + b"x" * (2**20 - 3) + b"\n\n"
            while not fake.stopping.is_set() and time.monotonic() < until:
                if reply.body_bytes and sent >= reply.body_bytes:
                    break
                self._write_chunk(big if reply.body_bytes else b": keep-alive\n\n")
                sent += len(big) if reply.body_bytes else 0
                fake.wait(reply.pace_s if reply.body_bytes else reply.keepalive_s or 0.05)

        def _stream(self, reply: Reply) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            if reply.stall_s and reply.stall_after is None:
                fake.wait(reply.stall_s)
            if reply.keepalive_s is not None or reply.body_bytes:
                self._comments(reply)
            events = [json.dumps(_chunk(p, None)) for p in _chunks(reply.text, reply.pieces)]
            if reply.finish:
                events.append(json.dumps(_chunk(None, "stop")))
            for i, event in enumerate(events):
                if reply.break_after is not None and i == reply.break_after:
                    # a chunk announced and never delivered: the connection breaks mid-body
                    self.wfile.write(b"400\r\ndata: {\"id")
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if reply.stall_after is not None and i == reply.stall_after:
                    fake.wait(reply.stall_s)
                if reply.pace_s:
                    fake.wait(reply.pace_s)
                if reply.malformed and i == 1:
                    event = "{not json"
                self._write_chunk(f"data: {event}\n\n".encode())
            self._write_chunk(b"data: [DONE]\n\n")
            self._write_chunk(b"")

    return Handler
