"""The one module that talks to a language model, through the official ``openai`` client
(which speaks to every OpenAI-compatible server: Ollama, llama.cpp's server, vLLM, hosted
APIs). The package is an optional extra (``citebot[llm]``): without it, written answers are
off and every answer is the extractive one.

Every failure becomes `ModelError` with a short reason that never carries the API key. Each
request is bounded by a `Guard` (`retrieval.written.bounds`): it ends at its deadline with its
connection closed, and its reply is read up to a byte bound.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from retrieval.written.bounds import Guard, guarded_transport
from retrieval.written.options import ModelOptions

log = logging.getLogger(__name__)

NO_CLIENT = ("written answers need the openai package: pip install 'citebot[llm]' "
             "(answering with quotes only until then)")


_ACTIVE = threading.local()  # the guard of the request the current thread is making


def _guard() -> Guard | None:
    return getattr(_ACTIVE, "guard", None)


class ModelError(Exception):
    """The model gave no usable answer (unreachable, timed out, refused, malformed); the
    caller answers with quotes only."""


class ChatClient:
    """Chat completions from the configured server; build once, reuse (thread-safe)."""

    def __init__(self, options: ModelOptions) -> None:
        self.base_url = options.base_url
        self.model = options.model
        self.timeout_s = options.timeout_s
        self._key = options.api_key
        self._client: Any = None

    def prepare(self) -> None:
        """Import the client and build it now (seconds), not within a member's deadline;
        `ModelError` if the openai package is missing."""
        self._openai()

    def _openai(self) -> Any:
        if self._client is None:
            try:
                import openai
            except ImportError:
                raise ModelError(NO_CLIENT) from None
            # Local servers want no key, but the client insists on one. No retries: the
            # deadline is the member's, and the extractive answer is ready.
            self._client = openai.OpenAI(base_url=self.base_url, api_key=self._key or "none",
                                         timeout=self.timeout_s, max_retries=0,
                                         http_client=_http_client(openai, self.base_url))
        return self._client

    def scrub(self, text: str) -> str:
        """``text`` with the API key replaced, for anything logged or shown."""
        return text.replace(self._key, "[redacted key]") if self._key else text

    def stream(self, messages: list[dict[str, str]], max_tokens: int,
               guard: Guard | None = None) -> Iterator[str]:
        """The answer's text as it is written, piece by piece, within ``guard``'s bounds (by
        default the timeout from now); `ModelError` on any failure (the stream is closed when
        the caller stops early)."""
        client = self._openai()
        with self._request(guard) as bounds:
            response = client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_tokens, temperature=0,
                stream=True, timeout=bounds.left())
            finished = False
            with response:
                for chunk in response:
                    for choice in getattr(chunk, "choices", None) or ():
                        piece = getattr(choice.delta, "content", None) if choice.delta else None
                        if isinstance(piece, str) and piece:
                            yield piece
                        finished = finished or bool(choice.finish_reason)
            if not finished:  # every server ends a whole answer with a finish reason
                raise ModelError("the stream ended before the answer did")

    def complete(self, messages: list[dict[str, str]], max_tokens: int,
                 guard: Guard | None = None) -> str:
        """The whole answer in one response, within ``guard``'s bounds (by default the
        timeout from now); `ModelError` on any failure."""
        client = self._openai()
        with self._request(guard) as bounds:
            response = client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_tokens, temperature=0,
                timeout=bounds.left())
            content = response.choices[0].message.content
        if not isinstance(content, str):
            raise ModelError("the server's response held no text")
        return content

    @contextmanager
    def _request(self, guard: Guard | None) -> Iterator[Guard]:
        """One request within ``guard``'s bounds (by default the timeout from now), which the
        transport reads while it runs; any failure of the server or the stream becomes
        `ModelError` (the caller answers with quotes only)."""
        guard = guard or Guard(time.monotonic() + self.timeout_s)
        _ACTIVE.guard = guard
        try:
            yield guard
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(guard.reason or self.describe(exc)) from None
        finally:
            _ACTIVE.guard = None

    def describe(self, exc: BaseException) -> str:
        """A failure on one line: a status code, a timeout, a broken connection, or the kind
        of error; never the key."""
        status = getattr(exc, "status_code", None)
        if isinstance(status, int):
            return f"the server answered {status}"
        name = type(exc).__name__
        if "Timeout" in name:
            return "the server did not answer in time"
        if "Connection" in name or "Protocol" in name or "Read" in name:
            return f"the connection to the server broke ({name})"
        return self.scrub(f"the server's response could not be read ({name})")


def _http_client(openai: Any, base_url: str) -> Any:
    """The ``openai`` package's own HTTP client class, with a transport that bounds every
    request (`retrieval.written.bounds`), through the proxy the environment names for the
    server (``HTTPS_PROXY``, ``NO_PROXY``, ...) as before; built on whichever HTTP package that
    version of ``openai`` uses."""
    base = next(c for c in openai.DefaultHttpxClient.__mro__ if c.__name__ == "Client")
    hx = importlib.import_module(base.__module__.split(".")[0])
    url = urllib.parse.urlsplit(base_url)
    proxy = None
    if url.hostname and not urllib.request.proxy_bypass(url.hostname):
        proxy = urllib.request.getproxies().get(url.scheme or "http")
    return openai.DefaultHttpxClient(transport=guarded_transport(hx, _guard, proxy))
