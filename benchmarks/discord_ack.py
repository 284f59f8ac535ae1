"""Time to acknowledge and time to answer for 50 concurrent /asks, against the fake Discord.

    .venv/bin/python benchmarks/discord_ack.py [--questions 50] [--hash-model]

The real bot (`CitebotBot`) runs in-process against tests/fakediscord with the bundled model
(or the fast hash model) and the three example articles; N members in one server each ask at
once. "ack" is injection -> the deferral callback (Discord allows 3 s); "answer" is injection
-> the filled reply. Prints median and worst of each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import BUNDLED_MODEL  # noqa: E402
from index.encode.embed import Embedder, load_embedder  # noqa: E402
from retrieval.core import Core  # noqa: E402
from tests.fakediscord import point_discord_at  # noqa: E402
from tests.fakes import HashEmbedder  # noqa: E402
from tests.test_bot_support import GUILD_A, make_fake, make_settings, running  # noqa: E402

QUESTIONS = [
    "What did Mayor Ortiz say about the flood barrier?",
    "How much will the barrier cost?",
    "Who won the robotics championship?",
    "Why is the library open later on weekends?",
    "What did Hale argue?",
]


async def bench(count: int, embedder: Embedder) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp) / "data")
        core = Core.open(settings, embedder=embedder)
        for path in sorted((ROOT / "examples" / "articles").iterdir()):
            core.indexer.add_plain(f"guild-{GUILD_A}", path.read_text(), name=path.stem)
        try:
            async with make_fake() as fake:
                with point_discord_at(fake.api_base, fake.gateway_url):
                    async with running(core, settings):
                        started = time.monotonic()
                        recs = await asyncio.gather(*(
                            fake.slash(GUILD_A, None, 990_000_000_000_000_000 + i, "ask",
                                       {"question": QUESTIONS[i % len(QUESTIONS)]})
                            for i in range(count)))
                        await asyncio.gather(*(r.wait_response(120) for r in recs))
                        wall = time.monotonic() - started
        finally:
            core.close()
    acks = [r.ack_latency for r in recs if r.ack_latency is not None]
    answers = [r.response_latency for r in recs if r.response_latency is not None]
    return {"ack": acks, "answer": answers, "wall": [wall]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--hash-model", action="store_true", help="the fast fake model")
    args = parser.parse_args()
    embedder = HashEmbedder() if args.hash_model else load_embedder(BUNDLED_MODEL)
    if not args.hash_model:
        embedder.embed_query("warm up")
    result = asyncio.run(bench(args.questions, embedder))
    print(f"{args.questions} concurrent /asks, model {embedder.name}, {os.cpu_count()} CPUs")
    for name in ("ack", "answer"):
        values = sorted(result[name])
        print(f"  time to {name:<6}: median {statistics.median(values) * 1000:7.0f} ms, "
              f"worst {values[-1] * 1000:7.0f} ms  ({len(values)} of {args.questions})")
    print(f"  all answered in {result['wall'][0]:.2f} s")
    return 0 if max(result["ack"]) < 3.0 else 1


if __name__ == "__main__":
    sys.exit(main())
