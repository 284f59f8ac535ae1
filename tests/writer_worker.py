"""The concurrency tests' worker: ``python -m tests.writer_worker DATA_DIR GO_FILE SEED
COLLECTION:COUNT ...`` opens the data directory, waits until GO_FILE exists, adds COUNT random
articles to each COLLECTION in turn, printing one JSON line per add (collection, id, start and
end times), then waits for GO_FILE.check and prints what the storage checks find from this
process's view."""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path


def main() -> None:
    from retrieval.core import Core
    from tests.fakes import HashEmbedder
    from tests.storage_checks import make_article, problems, settings_for

    data_dir, go, seed, *specs = sys.argv[1:]
    rng = random.Random(int(seed))
    core = Core.open(settings_for(Path(data_dir)), embedder=HashEmbedder())
    print(json.dumps({"ready": True}), flush=True)
    while not Path(go).exists():
        time.sleep(0.002)
    for spec in specs:
        collection, count = spec.split(":")
        for _ in range(int(count)):
            title, text = make_article(rng)
            start = time.time()
            result = core.indexer.add_text(collection, title=title, text=text)
            print(json.dumps({"collection": collection, "id": result.article.id,
                              "start": start, "end": time.time()}), flush=True)
    print(json.dumps({"added": True}), flush=True)
    while not Path(go + ".check").exists():  # check once every writer is done
        time.sleep(0.002)
    print(json.dumps({"problems": problems(core)}), flush=True)
    core.close()


if __name__ == "__main__":
    main()
