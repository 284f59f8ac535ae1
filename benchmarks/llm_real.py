"""Written answers from a real model server (any OpenAI-compatible one, on this machine or
not) over the example articles: what members would be shown, counted.

    .venv/bin/python benchmarks/llm_real.py --base-url http://127.0.0.1:8080/v1 --model m \
        [--example] [--timeout 60]

With ``--example`` a small proxy on 127.0.0.1 puts one example exchange (a question, numbered
sentences and a cited answer) before each request, so that a small model writes cited prose
(without it, small models rarely do and every answer falls back). Prints, per question, what
became of the answer (written, partly written, fell back and why) and the statements shown
with the quotes they cite, then the counts: statements shown, statements shown that their
quotes do not support (the support check applied again to what is shown, renumbered), and
quoted words shown that are not verbatim in a stored sentence (an independent reader of the
rendered answer, `tests.llm_cases.unverified_quotes`). Uses the deterministic test embedder.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.render_text import render_answer  # noqa: E402
from config.settings import Settings  # noqa: E402
from retrieval.core import Core  # noqa: E402
from retrieval.models import Answer  # noqa: E402
from retrieval.written.support import unsupported  # noqa: E402
from tests.fakes import HashEmbedder  # noqa: E402
from tests.llm_cases import unverified_quotes  # noqa: E402

ARTICLES = sorted((ROOT / "examples" / "articles").glob("*"))
QUESTIONS = (
    "What did Ortiz say about the cost of the barrier?",
    "How did the council vote on the flood barrier?",
    "Who designed the flood barrier?",
    "How many homes did the storm surge flood?",
    "What did Mayor Ortiz say after the vote?",
    "What did Brooks say about the library hours?",
    "When will the library open on Sundays?",
    "What did Raman say about the robotics league?",
    "Which team won the robotics league?",
    "What did Lind say?",
)
EXAMPLE_USER = (
    'Question (JSON): "When does the market open?"\n'
    '{"passage": "Market hours", "sentences": [{"id": "S1", "text": "The market opens at '
    '8 a.m. on Saturdays, manager Jo Park said."}, {"id": "S2", "text": "Parking is free."}]}')
EXAMPLE_ANSWER = "The market opens at 8 a.m. on Saturdays, Jo Park said [S1]."
HINT = ""  # with --hint: a last line asking for the answer in that form


def proxy(upstream: str) -> ThreadingHTTPServer:
    """A proxy on 127.0.0.1 that adds one example exchange before the question."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            messages = body.get("messages") or []
            at = next((i for i, m in enumerate(messages) if m.get("role") == "user"), 0)
            last = dict(messages[-1])
            if HINT and last.get("role") == "user":
                last["content"] = f"{last['content']}\n\n{HINT}"
            body["messages"] = [*messages[:at], {"role": "user", "content": EXAMPLE_USER},
                                {"role": "assistant", "content": EXAMPLE_ANSWER},
                                *messages[at:-1], last]
            request = urllib.request.Request(
                upstream.rstrip("/") + self.path.removeprefix("/v1"),
                data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=300) as response:
                data = response.read()
                kind = response.headers.get("Content-Type", "application/json")
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def unsupported_shown(answer: Answer) -> list[str]:
    if answer.written is None:
        return []
    return [c.text for c in answer.written.claims
            if unsupported(c.text, [answer.quotes[r - 1].text for r in c.refs], answer.question)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--example", action="store_true",
                        help="add one example exchange to each request (through a proxy)")
    parser.add_argument("--hint", action="store_true",
                        help="with --example, end each question with a line asking for one or "
                        "two cited sentences answering it")
    args = parser.parse_args()
    global HINT
    if args.hint:
        HINT = ("Answer the question above, not the example, in one or two sentences taken "
                "from the numbered sentences above, each ending with its id like [S3].")
    base = args.base_url
    server = proxy(base) if args.example else None
    if server is not None:
        host, port = server.server_address[:2]
        base = f"http://{host!s}:{port}/v1"
    texts = tuple(p.read_text() for p in ARTICLES)
    outcomes: Counter[str] = Counter()
    shown = bad_support = bad_quotes = dropped = 0
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(_env_file=None, data_dir=Path(data),  # type: ignore[call-arg]
                            llm_base_url=base, llm_model=args.model,
                            llm_timeout_s=args.timeout, llm_stream=False)
        with Core.open(settings, embedder=HashEmbedder()) as core:
            for path in ARTICLES:
                core.add_file("default", path)
            for question in QUESTIONS:
                answer = core.ask("default", question, write=True)
                writing = answer.writing
                outcome = writing.outcome if writing else "no model"
                outcomes[outcome] += 1
                print(f"\n## {question}\n{outcome}"
                      + (f" ({writing.reason})" if writing and writing.reason else ""))
                if writing is not None:
                    print("model wrote:", " ".join(writing.raw.split())[:600])
                if answer.written is not None:
                    shown += len(answer.written.claims)
                    dropped += len(answer.written.dropped)
                    for claim in answer.written.claims:
                        cited = " | ".join(answer.quotes[r - 1].text for r in claim.refs)
                        print(f"  shown: {claim.text}\n    cites: {cited}")
                bad_support += len(unsupported_shown(answer))
                bad_quotes += len(unverified_quotes(render_answer(answer), texts))
    if server is not None:
        server.shutdown()
    print(f"\n{len(QUESTIONS)} questions: " + ", ".join(f"{n} {o}" for o, n in outcomes.items()))
    print(f"statements shown {shown} (dropped {dropped}); unsupported shown {bad_support}; "
          f"unverified quotations shown {bad_quotes}")


if __name__ == "__main__":
    main()
