"""PostgreSQL's approximate vector index: pgvector's IVFFlat, trained on the vectors stored.

Why an inverted file and not HNSW (docs/SCALING.md, "Recall at size"): news repeats itself
(wire stories printed by many papers, one story updated through the day), and a corpus of
near-copies defeats HNSW's graph search: on ``benchmarks/bench.py``'s corpus, recall@10 was
0.47 at 100k passages (0.76 with pgvector's largest ``ef_search``) and 0.27 at 1M. An
inverted file scans whole lists, so the copies of a passage are found together, as the
embedded store's IVF finds them.

The index holds each vector in half precision (``halfvec``): a search scans half the bytes
(at 1M, 28 ms instead of 43 for 40 lists, recall@10 0.998 against 1.000), and its candidates
are re-scored from the stored full-precision vectors.

An inverted file must be trained on the vectors it will hold. So there is none until the
database holds more than the approximate threshold of vectors of a dimension (searches are
exact until then); then the writer whose change passes it builds one with about 4√n lists,
as many as the embedded store's IVF (√n lists mix too many topics at 1M: on a corpus
without near-copies recall@10 was 0.834 there, 0.992 with 4√n, from the same 40 probes in
a third of the time; docs/SCALING.md); and once the database holds four times as many
vectors as the lists were made for (or a quarter as many), the index is built again beside
the old one, which answers meanwhile (``CREATE INDEX CONCURRENTLY``), and the old one is
dropped. One process builds at a time (a session advisory lock); the others carry on. The
number of lists is in the index's name, so that a search knows how the index it reads was
made.
"""

from __future__ import annotations

import logging
import math
import time

import psycopg

from index.store.postgres.connections import connect

log = logging.getLogger(__name__)

PROBES = 40  # lists a search scans (benchmarks/vector_recall.py, docs/SCALING.md)
# the index holds each vector in half precision: half the bytes a search scans; its
# candidates are re-scored from the stored full-precision vectors
PRECISION = "halfvec"
MAX_PROBES = 1000
_BUILD_LOCK = "hashtextextended('citebot:vector-index:' || %s, 0)"
BUILD_MEMORY_MB = 512  # the least maintenance_work_mem a build is given
LISTS_PER_ROOT = 4.0  # lists per √n (benchmarks/vector_recall.py --lists-per-root)
MIN_PER_LIST = 39  # vectors a list is trained on at the least, as the embedded store's IVF
MAX_LISTS = 32_768  # pgvector's most


def lists_for(vectors: int) -> int:
    """Lists for an index over this many vectors: about 4√n (1,265 at 100k, 4,000 at 1M), as
    the embedded store's IVF, and at most one per 39 vectors (a small database's) and
    pgvector's 32,768."""
    n = max(vectors, 1)
    return max(1, min(round(LISTS_PER_ROOT * math.sqrt(n)), n // MIN_PER_LIST, MAX_LISTS))


def build_memory_mb(lists: int, dim: int) -> int:
    """``maintenance_work_mem`` for building an index of this many lists: pgvector's k-means
    holds a sample of 50 vectors per list and a distance bound per sample and list (at
    4,000 lists of 384 dimensions it asked for 3,275 MB), with a quarter to spare; at least
    ``BUILD_MEMORY_MB``. A fixed 512 MB would make builds fail past about 100k passages."""
    samples = 50 * int(lists)
    needed = samples * (4 * int(lists) + 4 * int(dim) + 64)
    return max(BUILD_MEMORY_MB, math.ceil(1.25 * needed / 2**20))


def order_by(dim: int) -> str:
    """The distance to a query (``%s``) that the index orders by."""
    d = int(dim)
    return f"embedding::{PRECISION}({d}) <=> %s::{PRECISION}({d})"


def name(dim: int, lists: int) -> str:
    return f"chunks_ivfflat_{int(dim)}_{int(lists)}"


def pattern(dim: int) -> str:
    """The names of the indexes over this dimension's vectors, as a regular expression (not
    a LIKE pattern, where ``_`` would let dimension 38's match dimension 384's)."""
    return f"^chunks_ivfflat_{int(dim)}_[0-9]+$"


def probes(wanted: int, lists: int | None) -> int:
    """``ivfflat.probes``: the lists wanted, at most every list. The same for any k, as the
    embedded store's IVF probes (the 30 candidates a question asks lie in about the same
    lists as its 10 nearest, and scanning three times the lists costs three times as long)."""
    return max(1, min(wanted, lists or wanted, MAX_PROBES))


LISTS_SQL = (
    "SELECT max(substring(i.relname FROM '_([0-9]+)$')::int) FROM pg_class i JOIN pg_index x "
    "ON x.indexrelid = i.oid WHERE i.relname ~ %s AND x.indisvalid")


def current_lists(db: psycopg.Connection, dim: int) -> int | None:
    """Lists of the usable index over vectors of this dimension; None when there is none."""
    row = db.execute(LISTS_SQL, (pattern(dim),)).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def stored(db: psycopg.Connection, dim: int) -> int:
    """Passages of this dimension in the database, every collection together (the index
    holds them all): a count kept per collection, so this is cheap."""
    row = db.execute("SELECT coalesce(sum(passages), 0) FROM collections WHERE dim = %s",
                     (int(dim),)).fetchone()
    return int(row[0]) if row else 0


def wanted_lists(vectors: int, lists: int | None, threshold: int) -> int | None:
    """The lists a new index should have, or None if the one there (``lists``; None: none)
    serves: none is needed up to the approximate threshold; one is built past it, and built
    again when the vectors have grown or shrunk by four times what its lists were made for."""
    if vectors <= threshold:
        return None
    wanted = lists_for(vectors)
    if lists is not None and lists / 2 < wanted < lists * 2:
        return None
    return wanted


def due(db: psycopg.Connection, dim: int, threshold: int) -> bool:
    """Whether the index over this dimension's vectors is missing or outgrown (two small
    reads: a writer asks after each change)."""
    return wanted_lists(stored(db, dim), current_lists(db, dim), threshold) is not None


def train(url: str, dim: int, threshold: int) -> int | None:
    """Build the index over this dimension's vectors if it is missing or outgrown (see the
    module's docstring); the lists of the index built, or None if none was needed or another
    process is building one. Blocks while it builds (about 8 minutes for 1M vectors here);
    searches and writes of every process go on meanwhile."""
    with connect(url, autocommit=True) as conn:
        if not due(conn, dim, threshold):
            return None
        row = conn.execute(f"SELECT pg_try_advisory_lock({_BUILD_LOCK})", (str(dim),)).fetchone()
        if not (row and row[0]):
            return None  # another process builds it
        try:
            return _build(conn, dim, threshold)
        finally:
            conn.execute(f"SELECT pg_advisory_unlock({_BUILD_LOCK})", (str(dim),))


def _build(conn: psycopg.Connection, dim: int, threshold: int) -> int | None:
    vectors, lists = stored(conn, dim), current_lists(conn, dim)
    wanted = wanted_lists(vectors, lists, threshold)  # again, in our turn
    if wanted is None:
        return None
    existing = [r[0] for r in conn.execute(
        "SELECT relname FROM pg_class WHERE relkind = 'i' AND relname ~ %s",
        (pattern(dim),)).fetchall()]
    for leftover in existing:  # an interrupted build leaves its index invalid
        if leftover != (name(dim, lists) if lists else None):
            conn.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{leftover}"')
    d = int(dim)
    log.info("building PostgreSQL's vector index for %d-dimension vectors: %d vectors, %d "
             "lists (was %s); searches go on meanwhile", d, vectors, wanted, lists or "none")
    start = time.monotonic()
    conn.execute("SELECT set_config('maintenance_work_mem', %s, false)",
                 (f"{build_memory_mb(wanted, d)}MB",))
    conn.execute(f'CREATE INDEX CONCURRENTLY "{name(d, wanted)}" ON chunks USING ivfflat '
                 f"((embedding::{PRECISION}({d})) {PRECISION}_cosine_ops) "
                 f"WITH (lists = {wanted}) "
                 f"WHERE live AND vector_dims(embedding) = {d}")
    if lists is not None:
        conn.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name(d, lists)}"')
    log.info("PostgreSQL's vector index built in %.0f s", time.monotonic() - start)
    return wanted
