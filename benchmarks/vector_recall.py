"""PostgreSQL's vector-search recall by index and setting, on corpora with and without
near-copies of passages: prints a table.

    .venv/bin/python benchmarks/vector_recall.py [--passages 100000] [--copies 100]
        [--eval-file ../shared/eval/realtimeqa_public.jsonl] [--probes 5,10,20,40]
        [--hnsw 16:128 --ef 160,1000] [--database-url URL]

Corpora. ``--copies 1``: ``benchmarks/postgres.py``'s synthetic corpus, passages in clusters,
no two alike. ``--copies N``: passages/N passages and N - 1 near-copies of each (each
vector perturbed to a cosine of about 0.9, as ``bench.py`` copies real articles to reach
1M), as news holds a wire story printed by many papers. The passages are the synthetic
corpus's, with questions near them, or with ``--eval-file`` the articles of an evaluation
file embedded by the bundled model, asked its own questions: real vectors crowd together
far more than random ones, and only then do the copies of one passage crowd out another's
(HNSW's recall falls on this corpus, not on the synthetic one).

Indexes. The IVFFlat index as citebot trains it (``vector_index``: about 4√n lists), searched
with each ``--probes`` (CITEBOT_DATABASE_PROBES). With ``--hnsw m:ef_construction``, also
the HNSW graph citebot searched before, with each ``--ef`` (its ``hnsw.ef_search``, iterative
scan on), for comparison. ``--embedded`` adds
the embedded store's own index (IVF-SQ8, its lists and probes) over the same vectors.

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
import functools
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


class Corpus:
    """Articles, their chunks' vectors (article by article, chunk by chunk, each chunk one
    paragraph's window), and the questions' vectors."""

    def __init__(self, articles: Articles, vectors: list[np.ndarray],
                 questions: np.ndarray) -> None:
        self.articles, self.questions = articles, questions
        self.vectors = np.concatenate(vectors)
        keys = [(article_id, c.paragraph + 1) for article_id, art in articles
                for c in art.chunks]
        self.key_of = {k: i for i, k in enumerate(dict.fromkeys(keys))}  # paragraph -> int
        self.chunk_key = np.array([self.key_of[k] for k in keys])
        self.by_article = vectors
        self.copies = 1

    def exact(self, q: np.ndarray) -> set[int]:
        """The 10 nearest paragraphs (by their best window) of every vector, exactly."""
        scores = self.vectors @ q
        top = np.argpartition(-scores, 400)[:400]
        best = dict.fromkeys(self.chunk_key[top[np.argsort(-scores[top])]].tolist())
        return set(list(best)[:10])


def corpus(args: argparse.Namespace, seed: int) -> Corpus:
    """``--copies`` - 1 near-copies of each passage of the base corpus, ``--passages`` in
    all; the questions are asked about the originals."""
    base, vectors, questions = (_evaluation(args.eval_file, args.passages // args.copies,
                                            args.queries) if args.eval_file else
                                _synthetic(args, seed))
    vectors = list(vectors)
    base_count = sum(len(v) for v in vectors)
    copies = max(1, args.passages // base_count)
    rng = np.random.default_rng(seed + 2)
    articles = list(base)
    for c in range(1, copies):
        for (article_id, art), v in zip(base, vectors[:len(base)], strict=True):
            noisy = v + rng.normal(0, 0.025, v.shape).astype(np.float32)
            vectors.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
            articles.append((f"c{c}-{article_id}",
                             replace(art, content_hash=f"c{c}-{art.content_hash}")))
    found = Corpus(articles, vectors, questions)
    found.copies = copies
    return found


def _synthetic(args: argparse.Namespace, seed: int) -> tuple[Articles, list[np.ndarray],
                                                              np.ndarray]:
    articles, vectors, _ = bench.corpus(max(args.passages // args.copies, bench.PARAGRAPHS),
                                        seed)
    asked = bench.questions(articles, vectors, args.queries, seed)
    per = bench.PARAGRAPHS
    return (articles, [vectors[i * per:(i + 1) * per] for i in range(len(articles))],
            np.array([v for _, v in asked]))


@functools.cache
def _evaluation(path: Path, passages: int, queries: int) -> tuple[Articles, list[np.ndarray],
                                                                  np.ndarray]:
    """The file's articles (until this many paragraphs), prepared and embedded as the
    indexer does, and its first distinct questions."""
    import json

    from config.settings import Settings
    from index.encode.embed import BUNDLED_MODEL, load_embedder
    from index.ingest.prepare import prepare

    embedder = load_embedder(BUNDLED_MODEL, encoder="onnx",
                             cache_dir=Settings().model_cache_dir)
    articles: Articles = []
    vectors: list[np.ndarray] = []
    questions: dict[str, None] = {}
    seen: set[str] = set()
    total = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        questions.setdefault(row["question"], None)
        if row["doc_id"] in seen or total >= passages:
            continue
        seen.add(row["doc_id"])
        art = prepare(title=row["doc_title"], text=row["doc_text"],
                      count_tokens=embedder.count_tokens, max_tokens=embedder.max_tokens)
        if not art.chunks:
            continue
        articles.append((f"a{len(articles)}", art))
        vectors.append(embedder.embed([c.text for c in art.chunks]))
        total += len(art.paragraphs)
    asked = list(questions)[:queries]
    return articles, vectors, np.array([embedder.embed_query(q) for q in asked])


def load(url: str, collection: str, corpus: Corpus) -> None:
    """Store the rows a dense search reads, by COPY."""
    articles = corpus.articles
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
                for (article_id, art), vectors in zip(articles, corpus.by_article,
                                                      strict=True):
                    for c, vector in zip(art.chunks, vectors, strict=True):
                        copy.write_row((collection, ids[(article_id, c.paragraph + 1)],
                                        c.start, c.end, vector))
        conn.execute("INSERT INTO collections(collection, generation, model, dim, passages) "
                     "VALUES (%s, 1, %s, %s, %s)",
                     (collection, bench.TableEmbedder.name, bench.DIM, len(corpus.key_of)))


def drop_indexes(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for (name,) in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'chunks\\_hnsw\\_%' OR "
                "indexname LIKE 'chunks\\_ivfflat\\_%'").fetchall():
            conn.execute(f'DROP INDEX "{name}"')


def build_ivfflat(url: str, precision: str) -> tuple[str, float]:
    """citebot's index over what is stored, its vectors in this precision: (what it is,
    seconds to build)."""
    drop_indexes(url)
    vector_index.PRECISION = precision  # the searches that follow order by it too
    start = time.perf_counter()
    lists = vector_index.train(url, bench.DIM, threshold=0)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE chunks")
    return f"ivfflat {precision}, {lists} lists", time.perf_counter() - start


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


def embedded_row(corpus: Corpus) -> str:
    """The embedded store's index over the same vectors (its own build: IVF-SQ8, its lists
    and probes for this many), searched as its ``dense_search`` does: 40 windows, re-scored
    exactly, best per paragraph."""
    import faiss

    from index.store.embedded import vectors as embedded

    ids = np.arange(len(corpus.vectors), dtype=np.int64)
    start = time.perf_counter()
    index = embedded.build(ids, corpus.vectors, bench.DIM, 0)
    seconds = time.perf_counter() - start
    ivf = faiss.extract_index_ivf(index._index)
    hits, times = 0, []
    for q in corpus.questions:
        t = time.perf_counter()
        _, found = index.search(q.reshape(1, -1), 40)
        rows = found[0][found[0] >= 0]
        ranked = rows[np.argsort(-(corpus.vectors[rows] @ q))]
        best = list(dict.fromkeys(corpus.chunk_key[ranked].tolist()))[:10]
        times.append((time.perf_counter() - t) * 1000)
        hits += len(corpus.exact(q) & set(best))
    label = f"embedded {index.kind}, {ivf.nlist} lists"
    return (f"  {label:<36} {seconds:>8.1f} {'nprobe ' + str(ivf.nprobe):>12} "
            f"{hits / (10 * len(corpus.questions)):>9.3f} {statistics.median(times):>9.2f}")


def measure(url: str, search: Search, corpus: Corpus) -> tuple[float, float]:
    """(recall@10 in paragraphs, median ms of the search alone)."""
    with psycopg.connect(url) as db:
        key = {int(i): corpus.key_of[(a, int(n))] for i, a, n in db.execute(
            "SELECT id, article_id, number FROM paragraphs WHERE collection = %s",
            (bench.COLLECTION,))}
    for q in corpus.questions[:10]:  # warm-up
        search(q)
    hits, times = 0, []
    for q in corpus.questions:
        start = time.perf_counter()
        found = search(q)
        times.append((time.perf_counter() - start) * 1000)
        hits += len(corpus.exact(q) & {key[p] for p in found})
    return hits / (10 * len(corpus.questions)), statistics.median(times)


def grid(url: str, args: argparse.Namespace, label: str, corpus: Corpus) -> list[str]:
    rows = [label, f"  {'index':<36} {'build s':>8} {'setting':>12} {'recall@10':>9} "
                   f"{'median ms':>9}"]
    plans: list[tuple[Callable[..., tuple[str, float]], tuple[object, ...], str, list[int],
                      Callable[[str, int], tuple[Search, Callable[[], None]]]]]
    plans = [(build_ivfflat, (precision,), "probes", args.probes, ivfflat_search)
             for precision in args.precisions]
    plans += [(build_hnsw, pair, "ef_search", args.ef, hnsw_search) for pair in args.hnsw]
    for build, params, setting, values, searcher in plans:
        index, seconds = build(url, *params)
        for value in values:
            search, close = searcher(url, value)
            try:
                recall, ms = measure(url, search, corpus)
            finally:
                close()
            rows.append(f"  {index:<36} {seconds:>8.1f} {setting + ' ' + str(value):>12} "
                        f"{recall:>9.3f} {ms:>9.2f}")
            print(rows[-1], flush=True)
    return rows


def run(args: argparse.Namespace, url: str) -> None:
    PostgresStorage(url, model=bench.TableEmbedder.name, dim=bench.DIM, pool_size=1).close()
    measured = corpus(args, args.seed)
    load(url, bench.COLLECTION, measured)
    base = "the evaluation file's articles" if args.eval_file else "synthetic passages"
    rows = [f"corpus: {len(measured.key_of):,} paragraphs ({len(measured.vectors):,} windows) "
            f"in the measured collection: {base}, each with {measured.copies - 1} near-copies; "
            f"{bench.DIM} dimensions, {len(measured.questions)} questions; load average "
            f"before: {_load()}"]
    if args.alone:
        rows += grid(url, args, "the measured collection alone:", measured)
        if args.embedded:
            rows.append(embedded_row(measured))
            print(rows[-1], flush=True)
    if args.other:
        other = corpus(args, args.seed + 100)
        drop_indexes(url)
        load(url, OTHER, other)
        del other
        rows += grid(url, args, "beside another collection as large (half the vectors):",
                     measured)
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
    parser.add_argument("--eval-file", type=Path,
                        help="an evaluation file (JSONL) whose articles are the passages")
    parser.add_argument("--probes", type=_ints, default=_ints("5,10,20,40"),
                        help="lists a search scans (CITEBOT_DATABASE_PROBES), comma-separated")
    parser.add_argument("--lists-per-root", type=float, default=vector_index.LISTS_PER_ROOT,
                        help="the IVFFlat index's lists per √n (citebot's and the embedded "
                             "store's: 4; before: 1)")
    parser.add_argument("--precisions", type=lambda t: t.split(","), default=["halfvec"],
                        help="the IVFFlat index's vectors: halfvec (citebot's), vector (full "
                             "precision), or both, comma-separated")
    parser.add_argument("--hnsw", type=_pairs, default=[],
                        help="HNSW builds to compare, m:ef_construction pairs")
    parser.add_argument("--ef", type=_ints, default=_ints("160,1000"),
                        help="hnsw.ef_search values for the HNSW builds")
    parser.add_argument("--embedded", action="store_true",
                        help="also the embedded store's index over the same vectors")
    parser.add_argument("--no-other", dest="other", action="store_false",
                        help="measure the collection alone only")
    parser.add_argument("--no-alone", dest="alone", action="store_false",
                        help="measure it beside another collection only")
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: start one)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    vector_index.LISTS_PER_ROOT = args.lists_per_root
    with tempfile.TemporaryDirectory(prefix="citebot-recall-") as tmp, \
            throwaway(Path(tmp), args.database_url) as url:
        run(args, url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
