"""The PostgreSQL tests' worker process: ``python -m tests.pg_worker URL GO_FILE ACTION ...``.

It opens the database, prints ``{"ready": true}``, waits until GO_FILE exists (so that every
worker starts at once), then does ACTION and prints one JSON line per step:

- ``add COLLECTION SEED COUNT``: add COUNT articles made from SEED (workers given the same
  SEED add the same articles, by content, under ids of their own);
- ``rebuild COLLECTION``: rebuild the collection, slowly (an embedder that sleeps);
- ``remove COLLECTION``: remove every article of the collection, newest first, one by one.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import numpy as np


class SlowEmbedder:
    """The fake embedder, taking its time (so a rebuild can be killed half way)."""

    def __init__(self) -> None:
        from tests.fakes import HashEmbedder

        self.inner = HashEmbedder()
        self.name, self.dim, self.max_tokens = self.inner.name, self.inner.dim, 64

    def embed(self, texts: list[str]) -> np.ndarray:
        time.sleep(0.05)
        return self.inner.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def main() -> None:
    from pydantic import SecretStr

    from index.errors import StorageError
    from retrieval.core import Core
    from tests.fakes import HashEmbedder
    from tests.storage_checks import make_article, settings_for

    url, go, action, *rest = sys.argv[1:]
    settings = settings_for(Path(go).parent / f"data-{time.monotonic_ns()}")
    settings = settings.model_copy(update={"database_url": SecretStr(url)})
    embedder = SlowEmbedder() if action == "rebuild" else HashEmbedder()
    core = Core.open(settings, embedder=embedder)  # type: ignore[arg-type]
    print(json.dumps({"ready": True}), flush=True)
    while not Path(go).exists():
        time.sleep(0.002)
    if action == "add":
        collection, seed, count = rest[0], int(rest[1]), int(rest[2])
        rng = random.Random(seed)
        own = random.Random()
        for _ in range(count):
            title, text = make_article(rng)
            try:
                result = core.indexer.add_text(collection, title=title, text=text,
                                               article_id=f"w{own.getrandbits(40):010x}")
            except StorageError as exc:  # the server went away: say so, go on
                print(json.dumps({"error": str(exc)}), flush=True)
                continue
            print(json.dumps({"id": result.article.id, "status": result.status}), flush=True)
    elif action == "rebuild":
        count = core.rebuild(rest[0], lambda done, total: print(
            json.dumps({"done": done, "total": total}), flush=True))
        print(json.dumps({"rebuilt": count}), flush=True)
    elif action == "remove":
        for article in core.articles(rest[0], limit=-1):
            core.remove(rest[0], article.id)
            print(json.dumps({"removed": article.id}), flush=True)
    print(json.dumps({"finished": True}), flush=True)
    core.close()


if __name__ == "__main__":
    main()
