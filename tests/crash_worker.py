"""The crash tests' worker: imports citebot once, then for each ``run DATA_DIR SEED`` line on
stdin forks a child that changes the data directory at random (add, update, remove, rebuild)
until the test kills it with SIGKILL. ``reap PID`` waits for a child and prints its status.

Each child appends to DATA_DIR/trace.log the operation it starts ("add news") and "done" when it
finishes, so the test can tell what a kill interrupted. Forking from one warm process keeps a
trial at a few milliseconds of overhead instead of a fresh interpreter's half second.
"""

from __future__ import annotations

import os
import random
import sys
import traceback
from pathlib import Path

STEPS = 400  # far more than fit before the kill


def work(data_dir: Path, seed: int) -> None:
    from retrieval.core import Core
    from tests.fakes import HashEmbedder
    from tests.storage_checks import make_article, settings_for

    rng = random.Random(seed)
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "trace.log", "a", buffering=1) as trace:
        trace.write("open -\n")
        core = Core.open(settings_for(data_dir), embedder=HashEmbedder())
        core.storage.stats("news")
        trace.write("done\n")
        rebuilds = rng.choice((0.2, 0.7))  # half the trials mostly rebuild
        install = core.storage.install  # type: ignore[attr-defined]

        def swapped(collection: str, *args: object) -> None:
            trace.write("rebuild:after-swap\n")  # SQLite committed, the new file not yet
            install(collection, *args)

        core.storage.install = swapped  # type: ignore[attr-defined]
        for _ in range(STEPS):
            collection = rng.choice(("news", "news", "other"))
            articles = core.storage.list_articles(collection, limit=-1)
            roll = rng.random()
            if articles and rng.random() < rebuilds:
                op = "rebuild"
            else:
                op = ("add" if roll < 0.55 or not articles else "update" if roll < 0.7
                      else "remove")
            trace.write(f"{op} {collection}\n")
            if op == "add":
                title, text = make_article(rng)
                core.indexer.add_text(collection, title=title, text=text)
            elif op == "update":
                title, text = make_article(rng)
                core.indexer.add_text(collection, title=title, text=text,
                                      article_id=rng.choice(articles).id)
            elif op == "remove":
                core.indexer.remove(collection, rng.choice(articles).id)
            else:
                core.indexer.rebuild(
                    collection, lambda done, total: trace.write("rebuild:staging\n"))
            trace.write("done\n")


def main() -> None:
    # warm: the children start with everything imported, so kills land in the work
    import retrieval.core  # noqa: F401
    import tests.fakes  # noqa: F401
    import tests.storage_checks  # noqa: F401

    print("ready", flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command == "run":
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    work(Path(args[0]), int(args[1]))
                except BaseException:
                    traceback.print_exc()
                    code = 1
                sys.stderr.flush()
                os._exit(code)
            print(f"pid {pid}", flush=True)
        elif command == "reap":
            _, status = os.waitpid(int(args[0]), 0)
            print(f"status {status}", flush=True)
        else:
            return


if __name__ == "__main__":
    main()
