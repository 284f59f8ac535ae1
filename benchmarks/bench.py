"""citebot's speed and memory benchmark: prints one table (and writes JSON).

    .venv/bin/python benchmarks/bench.py --eval-file ../shared/eval/realtimeqa_public.jsonl

What it measures, all in one run so that ratios are side by side:
- ingest throughput, end to end from text to searchable (clean, split, attribute, embed, store,
  save), for each encoder (torch, ONNX fp32, ONNX int8);
- query latency, warm, one question at a time, from question text to verified quotes, at each
  corpus size (median and p99), with recall@10 of the approximate index against exact search;
  with ``--backends embedded,postgres`` the same corpus is also stored in PostgreSQL and both
  stores answer the same questions in turn (PostgreSQL's recall@10 is its IVFFlat search
  against its own exact search, in paragraphs; ``benchmarks/vector_recall.py`` compares the
  index's settings); without ``--database-url`` a PostgreSQL is started from
  the ``local-postgres`` extra in the temporary directory;
- vector-index RAM and on-disk bytes per passage, peak RSS;
- cold start: a new process answering one question;
- rebuild time.

Scale corpora are the real articles of the evaluation file, repeated with varied ids; their
vectors are the real ones, perturbed (cosine ~0.9 to the original) for the copies, so that a
million passages are stored in minutes instead of embedded in hours.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from index.ingest.prepare import prepare  # noqa: E402
from index.models import PreparedArticle  # noqa: E402
from retrieval.core import Core  # noqa: E402

COLLECTION = "bench"


def load_articles(path: Path, max_passages: int) -> tuple[list[dict], list[str]]:  # type: ignore[type-arg]
    """Distinct articles (until max_passages paragraphs) and every distinct question of the
    file (so that timed questions do not repeat: caches would flatter a repeated one)."""
    docs: dict[str, dict] = {}  # type: ignore[type-arg]
    questions: dict[str, None] = {}
    total = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        questions.setdefault(row["question"], None)
        if row["doc_id"] not in docs and total < max_passages:
            docs[row["doc_id"]] = row
            total += sum(1 for p in row["doc_text"].split("\n") if p.strip())
    return list(docs.values()), list(questions)


def ingest(settings: Settings, articles: list[dict]) -> tuple[Core, float, int]:  # type: ignore[type-arg]
    """Add articles through the indexer; returns (core, seconds, passages)."""
    core = Core.open(settings)
    start = time.perf_counter()
    lines = [json.dumps({"id": a["doc_id"], "title": a["doc_title"], "text": a["doc_text"],
                         "url": a.get("doc_url")}) for a in articles]
    for _ in core.indexer.add_jsonl(COLLECTION, lines):  # the bulk path, as `citebot add --jsonl`
        pass
    seconds = time.perf_counter() - start
    passages = core.storage.stats(COLLECTION).paragraphs
    return core, seconds, passages


def base_corpus(core: Core) -> list[tuple[PreparedArticle, np.ndarray]]:
    """The ingested articles as prepared objects with their stored vectors."""
    out = []
    storage = core.storage
    for article in storage.list_articles(COLLECTION, limit=-1):
        pids = storage.sql.article_paragraph_ids(COLLECTION, article.id)  # type: ignore[attr-defined]
        passages = storage.passages(COLLECTION, pids)
        texts = "\n\n".join(passages[p].text for p in pids)
        prepared = prepare(title=article.title, text=texts, count_tokens=core.embedder.count_tokens,
                           max_tokens=core.embedder.max_tokens, url=article.url)
        _, _, vectors = storage.sql.chunk_vectors(  # type: ignore[attr-defined]
            COLLECTION, paragraph_ids=pids, dim=core.embedder.dim)
        if len(vectors) == len(prepared.chunks):
            out.append((prepared, vectors))
    return out


def grow(cores: list[Core], base: list[tuple[PreparedArticle, np.ndarray]], target: int,
         rng: np.random.Generator, copy: list[int]) -> list[float]:
    """Add perturbed copies of the base articles until the collection holds ``target``, the
    same copies to each core's store; the seconds each store took."""
    have = cores[0].storage.stats(COLLECTION).paragraphs
    added: list[tuple[str, PreparedArticle, np.ndarray]] = []
    while have < target:
        copy[0] += 1
        for prepared, vectors in base:
            noisy = vectors + rng.normal(0, 0.025, vectors.shape).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            # a copy is another article: its own id, content hash and address (the stores
            # keep one article per content or canonical address)
            article_id = f"c{copy[0]}-{prepared.content_hash[:8]}"
            own = replace(prepared, content_hash=f"{article_id}-{prepared.content_hash}",
                          canonical_url=None, url=None)
            added.append((article_id, own, noisy))
            have += len(prepared.paragraphs)
            if have >= target:
                break
    seconds = []
    for core in cores:
        t = time.perf_counter()
        with core.indexer.storage_batch(COLLECTION):
            for article_id, prepared, noisy in added:
                core.storage.put_article(COLLECTION, article_id, prepared, noisy)
        seconds.append(time.perf_counter() - t)
    return seconds


STORAGE_CALLS = ("dense_search", "lexical_search", "dense_scores", "passages")


def time_storage_calls(core: Core, timed: dict[str, list[float]]) -> None:
    """Time the storage calls of the search stage into ``timed`` (milliseconds, one entry per
    call, under ``storage.<call>``): where a backend's search time goes."""
    for call in STORAGE_CALLS:
        method = getattr(core.storage, call)

        def timer(*args: object, _method: Any = method, _key: str = f"storage.{call}",
                  **kwargs: object) -> Any:
            start = time.perf_counter()
            try:
                return _method(*args, **kwargs)
            finally:
                timed.setdefault(_key, []).append((time.perf_counter() - start) * 1000)

        setattr(core.storage, call, timer)


def query_latency(cores: list[Core], questions: list[str], n: int,
                  ) -> list[tuple[float, float, dict[str, float]]]:
    """For each core: median and p99 milliseconds of warm, one-at-a-time questions, and the
    median of each stage (embed the question; search and re-rank the passages; choose the
    quotes and decide "not found"; and each storage call of the search). The cores take each
    question in turn, so that both see the machine alike."""
    for core in cores:
        for q in questions[-10:]:  # warm-up questions are not timed again
            core.ask(COLLECTION, q)
    times: list[list[float]] = [[] for _ in cores]
    stages: list[dict[str, list[float]]] = [{} for _ in cores]
    for core, timed in zip(cores, stages, strict=True):
        time_storage_calls(core, timed)
    for i in range(n):
        for c, core in enumerate(cores):
            t = time.perf_counter()
            answer = core.ask(COLLECTION, questions[i % len(questions)])
            times[c].append((time.perf_counter() - t) * 1000)
            for stage, seconds in answer.timings.items():
                stages[c].setdefault(stage, []).append(seconds * 1000)
    for core in cores:
        for call in STORAGE_CALLS:
            vars(core.storage).pop(call, None)
    return [(statistics.median(ts), float(np.percentile(ts, 99)),
             {k: round(statistics.median(v), 1) for k, v in st.items()})
            for ts, st in zip(times, stages, strict=True)]


def recall_at_10(core: Core, questions: list[str]) -> float | None:
    """Recall@10 of the approximate index (with exact re-scoring) against exact search."""
    storage = core.storage
    loaded = storage._index(COLLECTION)  # type: ignore[attr-defined]
    if loaded.index.kind == "flat":
        return None
    ids, _, vectors = storage.sql.chunk_vectors(COLLECTION, dim=storage.dim)  # type: ignore[attr-defined]
    queries = core.embedder.embed(questions[:200])
    hits = 0
    for q in queries:
        exact = set(ids[np.argsort(-(vectors @ q))[:10]].tolist())
        _, cand = loaded.index.search(q.reshape(1, -1), 40)
        cand = [c for c in cand[0] if c >= 0]
        rows = np.searchsorted(ids, cand)
        best = np.asarray(cand)[np.argsort(-(vectors[rows] @ q))[:10]]
        hits += len(exact & set(best.tolist()))
    return hits / (10 * len(queries))


def postgres_recall_at_10(core: Core, questions: list[str]) -> float:
    """Recall@10 of PostgreSQL's dense search (IVFFlat candidates, re-scored exactly) against the
    same store's exact search over every vector of the collection, in paragraphs."""
    storage = core.storage
    threshold = storage.approximate_threshold  # type: ignore[attr-defined]
    hits = 0
    queries = core.embedder.embed(questions[:200])
    for q in queries:
        found = {h.paragraph for h in storage.dense_search(COLLECTION, q, 10)}
        storage.approximate_threshold = 1 << 62  # type: ignore[attr-defined]
        try:
            exact = {h.paragraph for h in storage.dense_search(COLLECTION, q, 10)}
        finally:
            storage.approximate_threshold = threshold  # type: ignore[attr-defined]
        hits += len(found & exact)
    return hits / (10 * len(queries))


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and "models" not in f.parts)


def index_ram_bytes(core: Core) -> int:
    import faiss

    loaded = core.storage._index(COLLECTION)  # type: ignore[attr-defined]
    return int(faiss.serialize_index(loaded.index._index).nbytes)


def cold_start(data_dir: Path, cache: Path, question: str, runs: int = 3) -> float:
    env = {**os.environ, "CITEBOT_DATA_DIR": str(data_dir), "CITEBOT_MODEL_CACHE_DIR": str(cache)}
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot.cli", "ask", "--collection", COLLECTION,
                        question], cwd=ROOT, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval-file", type=Path,
                        default=ROOT.parent / "shared" / "eval" / "realtimeqa_public.jsonl")
    parser.add_argument("--scales", default="1000,10000,100000,1000000")
    parser.add_argument("--ingest-passages", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--encoders", default="torch,onnx,onnx-int8")
    parser.add_argument("--output", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--backends", default="embedded",
                        help="embedded, or embedded,postgres: both stores, side by side")
    parser.add_argument("--database-url",
                        help="an empty PostgreSQL database with pgvector (default: start one)")
    args = parser.parse_args()
    if not args.eval_file.exists():
        parser.error(f"{args.eval_file} not found: give --eval-file")
    articles, questions = load_articles(args.eval_file, args.ingest_passages)
    report: dict[str, object] = {"eval_file": args.eval_file.name, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="citebot-bench-") as tmp:
        root = Path(tmp)
        cache = root / "models"
        ingest_rows = {}
        main_core = None
        for encoder in args.encoders.split(","):
            settings = Settings(data_dir=root / f"ingest-{encoder}", encoder=encoder,  # type: ignore[arg-type]
                                model_cache_dir=cache, _env_file=None)  # type: ignore[call-arg]
            Core.open(settings).close()  # export/load the model outside the timing
            core, seconds, passages = ingest(settings, articles)
            ingest_rows[encoder] = {"passages": passages, "seconds": round(seconds, 1),
                                    "passages_per_s": round(passages / seconds, 1)}
            print(f"ingest {encoder}: {passages} passages in {seconds:.1f} s "
                  f"({passages / seconds:.1f}/s)", flush=True)
            if encoder == "onnx":
                main_core = core
                t = time.perf_counter()
                core.indexer.rebuild(COLLECTION)
                report["rebuild"] = {"passages": passages,
                                     "seconds": round(time.perf_counter() - t, 1)}
            else:
                core.close()
        report["ingest"] = ingest_rows
        assert main_core is not None, "the onnx encoder is needed for the scale runs"
        base = base_corpus(main_core)
        with postgres_core(args, root, cache, main_core, base) as pg_core:
            report["scales"] = scales(args, root, cache, main_core, pg_core, base, questions)
        main_core.close()
    print(render(report))
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


@contextmanager
def postgres_core(args: argparse.Namespace, root: Path, cache: Path, main_core: Core,
                  base: list[tuple[PreparedArticle, np.ndarray]]) -> Iterator[Core | None]:
    """With ``--backends embedded,postgres``, a core on PostgreSQL holding the base articles
    (on ``--database-url``, or on a PostgreSQL started here); else None."""
    if "postgres" not in args.backends.split(","):
        yield None
        return
    from index.store.postgres.local import throwaway  # the PostgreSQL driver: only here

    with throwaway(root, args.database_url) as url:
        settings = Settings(database_url=url, encoder="onnx",  # type: ignore[arg-type]
                            model_cache_dir=cache, _env_file=None)  # type: ignore[call-arg]
        core = Core.open(settings, embedder=main_core.embedder)
        try:
            for prepared, vectors in base:
                core.storage.put_article(COLLECTION, f"base-{prepared.content_hash[:12]}",
                                         prepared, vectors)
            yield core
        finally:
            core.close()


def scales(args: argparse.Namespace, root: Path, cache: Path, main_core: Core,
           pg_core: Core | None, base: list[tuple[PreparedArticle, np.ndarray]],
           questions: list[str]) -> list[dict[str, object]]:
    """One row per corpus size (and per backend), each grown from the last."""
    cores = [main_core] if pg_core is None else [main_core, pg_core]
    rng = np.random.default_rng(0)
    copy = [0]
    scale_rows: list[dict[str, object]] = []
    for scale in [int(s) for s in args.scales.split(",")]:
        built = grow(cores, base, scale, rng, copy)
        stats = main_core.storage.stats(COLLECTION)
        n = stats.paragraphs
        measured = query_latency(cores, questions, args.queries)
        median, p99, stages = measured[0]
        row = {"backend": "embedded", "passages": n, "vectors": stats.vectors,
               "index": stats.index,
               "build_s": round(built[0], 1), "query_ms_median": round(median, 1),
               "query_ms_p99": round(p99, 1), "query_ms_stages": stages,
               "recall@10": recall_at_10(main_core, questions),
               "index_ram_bytes_per_passage": round(index_ram_bytes(main_core) / n),
               "disk_bytes_per_passage": round(disk_bytes(root / "ingest-onnx") / n),
               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
        if scale == 10_000 or scale == min(int(s) for s in args.scales.split(",")):
            row["cold_start_s"] = round(cold_start(root / "ingest-onnx", cache,
                                                   questions[0]), 2)
        scale_rows.append(row)
        print(json.dumps(row), flush=True)
        if pg_core is not None:
            pg_median, pg_p99, pg_stages = measured[1]
            pg = pg_core.storage.stats(COLLECTION)
            pg_row = {"backend": "postgres", "passages": pg.paragraphs,
                      "vectors": pg.vectors, "index": pg.index,
                      "build_s": round(built[1], 1), "query_ms_median": round(pg_median, 1),
                      "query_ms_p99": round(pg_p99, 1), "query_ms_stages": pg_stages,
                      "median_vs_embedded": round(pg_median / median, 2),
                      "recall@10": postgres_recall_at_10(pg_core, questions)}
            scale_rows.append(pg_row)
            print(json.dumps(pg_row), flush=True)
    return scale_rows


def render(report: dict) -> str:  # type: ignore[type-arg]
    lines = ["ingest (end to end, passages/s): " + ", ".join(
        f"{k} {v['passages_per_s']}" for k, v in report["ingest"].items())]
    if "rebuild" in report:
        r = report["rebuild"]
        lines.append(f"rebuild: {r['passages']} passages in {r['seconds']} s")
    cols = ["backend", "passages", "index", "build_s", "query_ms_median", "query_ms_p99",
            "median_vs_embedded", "recall@10", "index_ram_bytes_per_passage",
            "disk_bytes_per_passage", "peak_rss_mb", "cold_start_s"]
    lines.append(" | ".join(cols))
    for row in report["scales"]:
        lines.append(" | ".join(str(row.get(c, "")) for c in cols))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
