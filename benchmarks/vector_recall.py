"""PostgreSQL's vector-search recall by index and setting, on corpora with and without
near-copies of passages: prints a table.

    .venv/bin/python benchmarks/vector_recall.py [--passages 100000] [--copies 100]
        [--probes 5,10,20,40] [--hnsw 16:128 --ef 160,1000] [--database-url URL]

Corpora. ``--copies 1``: ``benchmarks/postgres.py``'s synthetic corpus, passages in clusters,
no two alike. ``--copies N``: passages/N passages of that corpus and N - 1 near-copies of
each (cosine about 0.9 to it, as ``bench.py`` copies real articles to reach 1M), as news
holds a wire story printed by many papers; the questions are near the originals.

Indexes. The IVFFlat index as citebot trains it (``vector_index``: about √n lists), searched
with each ``--probes`` (CITEBOT_DATABASE_PROBES). With ``--hnsw m:ef_construction``, also
the HNSW graph citebot searched before, with each ``--ef`` (its ``hnsw.ef_search`` for 10
results, in proportion for more, iterative scan on), for comparison.

Recall@10 of the dense search (candidates re-scored exactly, best window per paragraph, as in
production) against exact search over every vector, and the median time of the search
alone. Twice: with the measured collection alone in the database, then beside another
collection as large (the measured one holding half the vectors, the collection filter
applied during the scan: the usual case; ``--no-other`` skips it).

The rows a dense search reads are loaded by COPY, not through ``put_article`` (an hour for
1M passages): articles, paragraphs, and each chunk's vector, live, as ``put_article`` stores
them; lexemes and sentences, which it does not read, are left empty. Recall does not depend
on the machine's load; times do.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import postgres as bench  # benchmarks/postgres.py: the corpus, the questions, recall@10
import psycopg
from pgvector.psycopg import register_vector

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.models import PreparedArticle  # noqa: E402
from index.store.postgres import vector_index  # noqa: E402
from index.store.postgres.articles import as_arrays  # noqa: E402
from index.store.postgres.local import throwaway  # noqa: E402
from index.store.postgres.storage import PostgresStorage  # noqa: E402
from index.store.protocol import best_per_paragraph  # noqa: E402

OTHER = "other"
Articles = list[tuple[str, PreparedArticle]]
Search = Callable[[np.ndarray], list[int]]  # a question's vector -> the 10 paragraph ids


def corpus(passages: int, copies: int, seed: int) -> tuple[Articles, np.ndarray, Articles,
                                                              np.ndarray]:
    """(articles, vectors) of the corpus, and (articles, vectors) of the originals the
    questions are asked about. Article ``a{i}`` holds vectors[i * 8:(i + 1) * 8]."""
    articles, vectors, _ = bench.corpus(max(passages // copies, bench.PARAGRAPHS), seed)
    originals, original_vectors = list(articles), vectors
    rng = np.random.default_rng(seed + 2)
    blocks = [vectors]
    for c in range(1, copies):
        noisy = vectors + rng.normal(0, 0.025, vectors.shape).astype(np.float32)
        blocks.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
        for i, (_, art) in enumerate(originals):
            n = c * len(originals) + i
            articles.append((f"a{n}", replace(art, content_hash=f"{seed}-{n}")))
    return articles, np.concatenate(blocks), originals, original_vectors


def load(url: str, collection: str, articles: Articles, vectors: np.ndarray) -> None:
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


def drop_indexes(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for (name,) in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'chunks\\_hnsw\\_%' OR "
                "indexname LIKE 'chunks\\_ivfflat\\_%'").fetchall():
            conn.execute(f'DROP INDEX "{name}"')


def build_ivfflat(url: str) -> tuple[str, float]:
    """citebot's index over what is stored: (what it is, seconds to build)."""
    drop_indexes(url)
    start = time.perf_counter()
    lists = vector_index.train(url, bench.DIM, threshold=0)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE chunks")
    return f"ivfflat, {lists} lists", time.perf_counter() - start


def build_hnsw(url: str, m: int, ef_construction: int) -> tuple[str, float]:
    drop_indexes(url)
    d = bench.DIM
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '2GB'")  # where the graph fits, it is fast
        start = time.perf_counter()
        conn.execute(f"CREATE INDEX chunks_hnsw_{d} ON chunks USING hnsw "
                     f"((embedding::vector({d})) vector_cosine_ops) WITH (m = {m}, "
                     f"ef_construction = {ef_construction}) "
                     f"WHERE live AND vector_dims(embedding) = {d}")
        conn.execute("ANALYZE chunks")
        return f"hnsw, m {m}, ef_construction {ef_construction}", time.perf_counter() - start


def ivfflat_search(url: str, probes: int) -> tuple[Search, Callable[[], None]]:
    """citebot's dense search, this many lists scanned for 10 results."""
    storage = PostgresStorage(url, model=bench.TableEmbedder.name, dim=bench.DIM, pool_size=1,
                              approximate_threshold=0, probes=probes)
    return (lambda q: [h.paragraph for h in storage.dense_search(bench.COLLECTION, q, 10)],
            storage.close)


def hnsw_search(url: str, ef: int) -> tuple[Search, Callable[[], None]]:
    """The dense search of the citebot that searched by HNSW: 40 nearest windows by the
    graph (iterative scan, ``hnsw.ef_search`` ef), re-scored exactly, best per paragraph."""
    d = bench.DIM
    db = psycopg.connect(url, autocommit=True)
    register_vector(db)

    def search(q: np.ndarray) -> list[int]:
        with db.transaction():
            db.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                       "set_config('hnsw.ef_search', %s, true)", (str(ef),))
            rows = db.execute(
                f"SELECT paragraph_id, embedding FROM chunks WHERE collection = %s AND live "
                f"AND vector_dims(embedding) = {d} ORDER BY embedding::vector({d}) <=> "
                f"%s::vector({d}) LIMIT 40", (bench.COLLECTION, q), binary=True).fetchall()
        pids, vectors = as_arrays(rows, d)
        return [h.paragraph for h in best_per_paragraph(pids.tolist(),
                                                        (vectors @ q).tolist(), 10)]
    return search, db.close


def measure(url: str, search: Search, vectors: np.ndarray,
            asked: list[tuple[str, np.ndarray]]) -> tuple[float, float]:
    """(recall@10 in passages, median ms of the search alone)."""
    with psycopg.connect(url) as db:
        where = {int(i): int(a[1:]) * bench.PARAGRAPHS + int(n) - 1 for i, a, n in db.execute(
            "SELECT id, article_id, number FROM paragraphs WHERE collection = %s",
            (bench.COLLECTION,))}
    for _, q in asked[:10]:  # warm-up
        search(q)
    hits, times = 0, []
    for _, q in asked:
        start = time.perf_counter()
        found = search(q)
        times.append((time.perf_counter() - start) * 1000)
        exact = set(np.argsort(-(vectors @ q))[:10].tolist())
        hits += len(exact & {where[p] for p in found})
    return hits / (10 * len(asked)), statistics.median(times)


def grid(url: str, args: argparse.Namespace, label: str, vectors: np.ndarray,
         asked: list[tuple[str, np.ndarray]]) -> list[str]:
    rows = [label, f"  {'index':<36} {'build s':>8} {'setting':>12} {'recall@10':>9} "
                   f"{'median ms':>9}"]
    plans = [(build_ivfflat, (), "probes", args.probes, ivfflat_search)]
    plans += [(build_hnsw, pair, "ef_search", args.ef, hnsw_search) for pair in args.hnsw]
    for build, params, setting, values, searcher in plans:
        index, seconds = build(url, *params)
        for value in values:
            search, close = searcher(url, value)
            try:
                recall, ms = measure(url, search, vectors, asked)
            finally:
                close()
            rows.append(f"  {index:<36} {seconds:>8.1f} {setting + ' ' + str(value):>12} "
                        f"{recall:>9.3f} {ms:>9.2f}")
            print(rows[-1], flush=True)
    return rows


def run(args: argparse.Namespace, url: str) -> None:
    PostgresStorage(url, model=bench.TableEmbedder.name, dim=bench.DIM, pool_size=1).close()
    articles, vectors, originals, original_vectors = corpus(args.passages, args.copies,
                                                            args.seed)
    asked = bench.questions(originals, original_vectors, args.queries, args.seed)
    load(url, bench.COLLECTION, articles, vectors)
    rows = [f"corpus: {len(vectors):,} passages in the measured collection "
            f"({len(original_vectors):,} and {args.copies - 1} near-copies of each), "
            f"{bench.DIM} dimensions, {len(asked)} questions; load average before: {_load()}"]
    if args.alone:
        rows += grid(url, args, "the measured collection alone:", vectors, asked)
    if args.other:
        others, other_vectors, _, _ = corpus(args.passages, args.copies, args.seed + 100)
        drop_indexes(url)
        load(url, OTHER, [(f"o{i}", art) for i, (_, art) in enumerate(others)], other_vectors)
        del others, other_vectors
        rows += grid(url, args, "beside another collection as large (half the vectors):",
                     vectors, asked)
    rows.append(f"load average after: {_load()}")
    print("\n".join(rows))


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _pairs(text: str) -> list[tuple[int, int]]:
    return [(int(m), int(e)) for m, e in (p.split(":") for p in text.split(",") if p)]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--copies", type=int, default=100,
                        help="each passage and its near-copies: 1 for none")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--probes", type=_ints, default=_ints("5,10,20,40"),
                        help="lists scanned for 10 results, comma-separated")
    parser.add_argument("--hnsw", type=_pairs, default=[],
                        help="HNSW builds to compare, m:ef_construction pairs")
    parser.add_argument("--ef", type=_ints, default=_ints("160,1000"),
                        help="hnsw.ef_search values for the HNSW builds")
    parser.add_argument("--no-other", dest="other", action="store_false",
                        help="measure the collection alone only")
    parser.add_argument("--no-alone", dest="alone", action="store_false",
                        help="measure it beside another collection only")
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: start one)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="citebot-recall-") as tmp, \
            throwaway(Path(tmp), args.database_url) as url:
        run(args, url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
