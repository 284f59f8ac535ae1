"""PostgreSQL's HNSW recall by build and search parameters: prints a table.

    .venv/bin/python benchmarks/hnsw_recall.py [--passages 100000] [--queries 300]
        [--builds 16:64,16:128,24:128] [--ef 40,80,160,320] [--database-url URL]

For each index build (m, ef_construction) and each ``ef_search`` (the setting
CITEBOT_DATABASE_EF_SEARCH, for 10 results), recall@10 of ``dense_search`` (HNSW candidates
re-scored exactly, as in production) against exact search, and the median time of the search
alone. Twice: with the measured collection alone in the database, then beside another
collection as large (the measured one holding half the vectors, the collection filter applied
during an iterative scan: the usual case). ``--scan-tuples`` adds rows with
``hnsw.max_scan_tuples`` lowered, to show whether the iterative scan's limit matters.
``--incremental`` builds the index first and adds the rows into it, as ``put_article`` does.

The corpus and the recall are those of ``benchmarks/postgres.py``. It is loaded by COPY, not
through ``put_article`` (six minutes for 100k passages): the rows a dense search reads are
stored as ``put_article`` stores them (articles, paragraphs, and each chunk's vector, live);
the lexemes and sentences, which it does not read, are left empty. Then the HNSW index is
built with each parameter pair. Recall does not depend on the machine's load; times do.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import postgres as bench  # benchmarks/postgres.py: the corpus, the questions, recall@10
import psycopg
from pgvector.psycopg import register_vector

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.models import PreparedArticle  # noqa: E402
from index.store.postgres.local import throwaway  # noqa: E402
from index.store.postgres.storage import PostgresStorage  # noqa: E402

OTHER = "other"


def load(url: str, collection: str, articles: list[tuple[str, PreparedArticle]],
         vectors: np.ndarray) -> None:
    """Store the rows a dense search reads, by COPY."""
    with psycopg.connect(url) as conn:
        register_vector(conn)
        with conn.cursor() as cur:
            with cur.copy("COPY articles(collection, id, title, content_hash, paragraph_count,"
                          " added_at) FROM STDIN") as copy:
                for article_id, art in articles:
                    copy.write_row((collection, article_id, art.title, art.content_hash,
                                    len(art.paragraphs), "2026-01-01T00:00:00+00:00"))
            with cur.copy("COPY paragraphs(collection, article_id, number, text, lexemes, "
                          "text_tokens, title_tokens) FROM STDIN") as copy:
                for article_id, art in articles:
                    for n, paragraph in enumerate(art.paragraphs, 1):
                        copy.write_row((collection, article_id, n, paragraph.text, "", 0, 0))
            ids = {(a, int(n)): int(i) for i, a, n in cur.execute(
                "SELECT id, article_id, number FROM paragraphs WHERE collection = %s",
                (collection,))}
            with cur.copy('COPY chunks(collection, paragraph_id, start, "end", embedding) '
                          "FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["text", "int8", "int4", "int4", "vector"])
                for a, (article_id, art) in enumerate(articles):
                    for c in art.chunks:
                        copy.write_row((collection, ids[(article_id, c.paragraph + 1)],
                                        c.start, c.end,
                                        vectors[a * bench.PARAGRAPHS + c.paragraph]))
        conn.execute("INSERT INTO collections(collection, generation, model, dim, passages) "
                     "VALUES (%s, 1, %s, %s, %s)",
                     (collection, bench.TableEmbedder.name, bench.DIM, len(vectors)))


def build(url: str, m: int, ef_construction: int, memory: str = "1GB") -> float:
    """Rebuild the HNSW index with these parameters; seconds taken."""
    d = bench.DIM
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP INDEX IF EXISTS chunks_hnsw_{d}")
        # where the graph fits, the build is fast
        conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (memory,))
        start = time.perf_counter()
        conn.execute(f"CREATE INDEX chunks_hnsw_{d} ON chunks USING hnsw "
                     f"((embedding::vector({d})) vector_cosine_ops) WITH (m = {m}, "
                     f"ef_construction = {ef_construction}) "
                     f"WHERE live AND vector_dims(embedding) = {d}")
        conn.execute("ANALYZE chunks")
        return time.perf_counter() - start


@contextmanager
def scan_tuples(url: str, limit: int | None) -> Iterator[None]:
    """``hnsw.max_scan_tuples`` for new connections to the database (None: the default)."""
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(url, autocommit=True) as conn:
        if limit is not None:
            conn.execute(f'ALTER DATABASE "{name}" SET hnsw.max_scan_tuples = {int(limit)}')
        try:
            yield
        finally:
            conn.execute(f'ALTER DATABASE "{name}" RESET hnsw.max_scan_tuples')


def measure(url: str, ef: int, vectors: np.ndarray,
            asked: list[tuple[str, np.ndarray]]) -> tuple[float, float]:
    """(recall@10, median ms of the dense search alone) at this ef_search."""
    storage = PostgresStorage(url, model=bench.TableEmbedder.name, dim=bench.DIM,
                              pool_size=1, ef_search=ef)
    try:
        for _, q in asked[:10]:  # warm-up
            storage.dense_search(bench.COLLECTION, q, 10)
        times = []
        for _, q in asked:
            start = time.perf_counter()
            storage.dense_search(bench.COLLECTION, q, 10)
            times.append((time.perf_counter() - start) * 1000)
        recall = bench.recall_at_10(_AsCore(storage), vectors, asked)  # type: ignore[arg-type]
    finally:
        storage.close()
    return recall, statistics.median(times)


class _AsCore:
    """What ``recall_at_10`` reads of a Core: its storage."""

    def __init__(self, storage: PostgresStorage) -> None:
        self.storage = storage


def grid(url: str, args: argparse.Namespace, label: str, vectors: np.ndarray,
         asked: list[tuple[str, np.ndarray]]) -> list[str]:
    rows = [label, f"  {'m':>3} {'ef_con':>6} {'build s':>8} {'ef_search':>9} "
                   f"{'max_scan':>8} {'recall@10':>9} {'median ms':>9}"]
    for m, ef_construction in args.builds:
        seconds = args.built_before or build(url, m, ef_construction, args.memory)
        for limit in [None, *args.scan_tuples]:
            with scan_tuples(url, limit):
                for ef in args.ef:
                    recall, ms = measure(url, ef, vectors, asked)
                    rows.append(f"  {m:>3} {ef_construction:>6} {seconds:>8.0f} {ef:>9} "
                                f"{limit or 'default':>8} {recall:>9.3f} {ms:>9.2f}")
                    print(rows[-1], flush=True)
    return rows


def run(args: argparse.Namespace, url: str) -> None:
    PostgresStorage(url, model=bench.TableEmbedder.name, dim=bench.DIM, pool_size=1).close()
    articles, vectors, _ = bench.corpus(args.passages, args.seed)
    asked = bench.questions(articles, vectors, args.queries, args.seed)
    if args.incremental:  # the graph grows row by row, as put_article grows it
        args.builds = args.builds[:1]
        start = time.perf_counter()
        build(url, *args.builds[0], args.memory)
        load(url, bench.COLLECTION, articles, vectors)
        args.built_before = time.perf_counter() - start
    else:
        _drop_index(url)  # the one the storage made: COPY, then build, is faster
        load(url, bench.COLLECTION, articles, vectors)
    rows = [f"corpus: {len(vectors):,} passages in the measured collection, {bench.DIM} "
            f"dimensions, {len(asked)} questions; load average before: {_load()}"]
    if args.alone:
        rows += grid(url, args, "the measured collection alone:", vectors, asked)
    if args.other and not args.incremental:
        others, other_vectors, _ = bench.corpus(args.passages, args.seed + 100)
        _drop_index(url)
        load(url, OTHER, [(f"o{i}", art) for i, (_, art) in enumerate(others)], other_vectors)
        del others, other_vectors
        rows += grid(url, args, "beside another collection as large (half the vectors):",
                     vectors, asked)
    rows.append(f"load average after: {_load()} (times measured beside other work)")
    print("\n".join(rows))


def _drop_index(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP INDEX IF EXISTS chunks_hnsw_{bench.DIM}")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _pairs(text: str) -> list[tuple[int, int]]:
    return [(int(m), int(e)) for m, e in (p.split(":") for p in text.split(","))]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--builds", type=_pairs, default=_pairs("16:64,16:128,24:128"),
                        help="m:ef_construction pairs, comma-separated")
    parser.add_argument("--ef", type=_ints, default=_ints("40,80,160,320"),
                        help="ef_search values (for 10 results), comma-separated")
    parser.add_argument("--scan-tuples", type=_ints, default=[],
                        help="hnsw.max_scan_tuples values to try besides the default")
    parser.add_argument("--no-other", dest="other", action="store_false",
                        help="measure the collection alone only")
    parser.add_argument("--no-alone", dest="alone", action="store_false",
                        help="measure it beside another collection only")
    parser.add_argument("--incremental", action="store_true",
                        help="build the index (the first of --builds) before the rows are "
                             "added, as in production; build s is then the load's")
    parser.add_argument("--memory", default="1GB",
                        help="maintenance_work_mem for a build (PostgreSQL notes when the "
                             "graph no longer fits in it: the build then slows)")
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: start one)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    args.built_before = 0.0
    with tempfile.TemporaryDirectory(prefix="citebot-hnsw-") as tmp, \
            throwaway(Path(tmp), args.database_url) as url:
        run(args, url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
