"""Damage that must not go unnoticed: damage a store in each of several ways, N times, then use
it as a person would (open it, ask each collection's figures, add an article) and count what
citebot did.

    .venv/bin/python benchmarks/damage.py --trials 20

Per kind of damage: trials; refused (a StorageError said what happened and what to do);
repaired (damage to derived files, rebuilt from SQLite with nothing missing); unnoticed (not
refused, and every collection kept its articles and vectors: e.g. a flipped bit inside a
paragraph's text, which no structural check can see); crashed (an error other than a
StorageError: a traceback, not a clean refusal); shrank (a collection silently held
fewer articles or vectors than before: must be 0); overwritten (after damage to the database,
a vector file, manifest or the identity file changed: must be 0). "no quick_check at open"
repeats the page damage with the check at open turned off, as for a database larger than the
size checked at every open: the manifests alone must catch a store that got smaller.
"""

from __future__ import annotations

import argparse
import logging
import random
import shutil
import sqlite3
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from index.errors import StorageError  # noqa: E402
from index.store.embedded import integrity  # noqa: E402
from retrieval.core import Core  # noqa: E402
from tests.fakes import HashEmbedder  # noqa: E402

COLLECTIONS = {"news": 8, "sports": 5, "other": 3}  # articles each
WORDS = "harbor council budget ferry bridge tolls mayor river museum school rail vote".split()
PAGE = 4096
Figures = dict[str, tuple[int, int]]  # collection -> (articles, vectors)


def _article(rng: random.Random) -> tuple[str, str]:
    paragraphs = [" ".join(rng.choice(WORDS) for _ in range(12)) + f" zq{rng.getrandbits(32):x}."
                  for _ in range(rng.randint(2, 4))]
    return f"Story {rng.getrandbits(24):06x}", "\n\n".join(paragraphs)


def _open(data: Path) -> Core:
    return Core.open(Settings(data_dir=data, _env_file=None),  # type: ignore[call-arg]
                     embedder=HashEmbedder())


def build(data: Path) -> Figures:
    """A closed store with a few collections, its database checkpointed into one file."""
    core, rng = _open(data), random.Random(7)
    for half in (0, 1):
        for collection, count in COLLECTIONS.items():
            for _ in range(count // 2 if half == 0 else count - count // 2):
                title, text = _article(rng)
                core.indexer.add_text(collection, title=title, text=text)
        if half == 0:  # an older copy, for "an older copy of the database put back"
            core.storage.sql.db().execute(  # type: ignore[attr-defined]
                "VACUUM INTO ?", (str(data.parent / "older.sqlite3"),))
    figures = _figures(core)
    core.close()
    conn = sqlite3.connect(data / "citebot.sqlite3")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return figures


def _figures(core: Core) -> Figures:
    out = {}
    for collection in COLLECTIONS:
        stats = core.storage.stats(collection)
        out[collection] = (stats.articles, stats.vectors or 0)
    return out


def evidence(data: Path) -> dict[str, bytes]:
    files = [data / "citebot.store-id", *(data / "collections").rglob("*")]
    return {str(p.relative_to(data)): p.read_bytes() for p in files
            if p.is_file() and p.suffix != ".lock"}


# -- kinds of damage -------------------------------------------------------------------------

def _db(data: Path) -> Path:
    return data / "citebot.sqlite3"


def truncate(data: Path, rng: random.Random) -> None:
    _db(data).write_bytes(b"")


def delete(data: Path, rng: random.Random) -> None:
    _db(data).unlink()


def random_page(data: Path, rng: random.Random) -> None:
    """One page (not the header's) overwritten with random bytes."""
    body = bytearray(_db(data).read_bytes())
    page = rng.randrange(1, len(body) // PAGE)
    body[page * PAGE:(page + 1) * PAGE] = rng.randbytes(PAGE)
    _db(data).write_bytes(bytes(body))


def zeroed_pages(data: Path, rng: random.Random) -> None:
    """A run of 1-3 pages zeroed, as a lost disk block leaves them."""
    body = bytearray(_db(data).read_bytes())
    page, run = rng.randrange(1, len(body) // PAGE), rng.randint(1, 3)
    body[page * PAGE:(page + run) * PAGE] = bytes(min(run * PAGE, len(body) - page * PAGE))
    _db(data).write_bytes(bytes(body))


def flipped_bytes(data: Path, rng: random.Random) -> None:
    """A few bytes flipped at random offsets anywhere in the file (bit rot)."""
    body = bytearray(_db(data).read_bytes())
    for _ in range(rng.randint(1, 8)):
        body[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
    _db(data).write_bytes(bytes(body))


def rows_lost(data: Path, rng: random.Random) -> None:
    """Some of a collection's vectors gone, and nothing else: no structural damage at all."""
    conn = sqlite3.connect(_db(data))
    conn.execute("DELETE FROM chunks WHERE id IN (SELECT id FROM chunks WHERE collection = ? "
                 "ORDER BY random() LIMIT ?)", (rng.choice(sorted(COLLECTIONS)),
                                                rng.randint(1, 5)))
    conn.commit()
    conn.close()


def older_copy(data: Path, rng: random.Random) -> None:
    shutil.copy(data.parent.parent / "older.sqlite3", _db(data))


def _collection_dir(data: Path, rng: random.Random) -> Path:
    return data / "collections" / rng.choice(sorted(COLLECTIONS))


def deleted_vector_file(data: Path, rng: random.Random) -> None:
    next(_collection_dir(data, rng).glob("vectors.*.faiss")).unlink()


def truncated_manifest(data: Path, rng: random.Random) -> None:
    manifest = _collection_dir(data, rng) / "manifest.json"
    body = manifest.read_bytes()
    manifest.write_bytes(body[:rng.randrange(len(body))])


DATABASE_DAMAGE: dict[str, Callable[[Path, random.Random], None]] = {
    "database truncated to 0 bytes": truncate, "database deleted": delete,
    "a database page random": random_page, "database pages zeroed": zeroed_pages,
    "database bytes flipped": flipped_bytes, "a collection's rows lost": rows_lost,
    "an older copy of the database put back": older_copy,
}
FILE_DAMAGE = {"a vector file deleted": deleted_vector_file,
               "a manifest truncated": truncated_manifest}


def trial(baseline: Path, work: Path, harm: Callable[[Path, random.Random], None],
          rng: random.Random, before: Figures, quick_check: bool) -> tuple[str, bool]:
    """(outcome, evidence overwritten) of one damaged copy of the store."""
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(baseline, data)
    harm(data, rng)
    damaged = evidence(data)
    integrity.QUICK_CHECK_AT_OPEN = (64 << 20) if quick_check else 0
    try:
        core = _open(data)
        try:
            seen = _figures(core)  # opening every collection repairs what it may
            opened = evidence(data)
            title, text = _article(rng)
            core.indexer.add_text("news", title=title, text=text)
            after = _figures(core)
        finally:
            core.close()
    except StorageError:
        return "refused", evidence(data) != damaged
    except Exception:  # a traceback is no clean refusal
        return "crashed", evidence(data) != damaged
    after["news"] = after["news"][0] - 1, after["news"][1] - 1  # less the one just added
    if _smaller(seen, before) or _smaller(after, before):
        return "shrank", evidence(data) != damaged
    return ("unnoticed" if opened == damaged else "repaired"), False


def _smaller(figures: Figures, before: Figures) -> bool:
    return any(figures[c][0] < a or figures[c][1] < v for c, (a, v) in before.items())


def run(kinds: dict[str, Callable[[Path, random.Random], None]], baseline: Path, work: Path,
        before: Figures, trials: int, seed: int, *, quick_check: bool = True,
        database: bool = True) -> Counter[str]:
    totals: Counter[str] = Counter()
    for name, harm in kinds.items():
        counts: Counter[str] = Counter()
        for n in range(trials):
            outcome, overwritten = trial(baseline, work, harm, random.Random(seed * 1000 + n),
                                         before, quick_check)
            counts[outcome] += 1
            counts["overwritten"] += overwritten and database
        label = name + ("" if quick_check else " (no quick_check at open)")
        print(f"{label:<58}{trials:>7}{counts['refused']:>9}{counts['repaired']:>10}"
              f"{counts['unnoticed']:>10}{counts['crashed']:>9}{counts['shrank']:>8}"
              f"{counts['overwritten']:>13}")
        totals.update(counts)
        totals["trials"] += trials
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="per kind of damage")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # refusals are counted, not logged
    with tempfile.TemporaryDirectory() as tmp:
        baseline, work = Path(tmp) / "baseline", Path(tmp) / "work"
        work.mkdir()
        before = build(baseline)
        print(f"store: {len(COLLECTIONS)} collections, "
              + ", ".join(f"{c} {a} articles/{v} vectors" for c, (a, v) in before.items()))
        print(f"{'damage':<58}{'trials':>7}{'refused':>9}{'repaired':>10}{'unnoticed':>10}"
              f"{'crashed':>9}{'shrank':>8}{'overwritten':>13}")
        totals = run(DATABASE_DAMAGE, baseline, work, before, args.trials, args.seed)
        totals += run({k: v for k, v in DATABASE_DAMAGE.items() if "page" in k or "rows" in k},
                      baseline, work, before, args.trials, args.seed, quick_check=False)
        totals += run(FILE_DAMAGE, baseline, work, before, args.trials, args.seed,
                      database=False)
    print(f"total: {totals['trials']} trials, {totals['refused']} refused, {totals['repaired']} "
          f"repaired, {totals['unnoticed']} unnoticed, {totals['crashed']} crashed, "
          f"{totals['shrank']} silently shrank, {totals['overwritten']} with evidence "
          "overwritten")
    return 1 if totals["shrank"] or totals["overwritten"] or totals["crashed"] else 0


if __name__ == "__main__":
    sys.exit(main())
