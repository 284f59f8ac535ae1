"""Shared by the reliability tests (crash, faults, reconcile, concurrency): small random
articles, the consistency checks, and the figures line printed at the end of a module.

Every paragraph of a generated article carries one unique word (``zq`` + hex), so the lexical
check can ask for each paragraph by name.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from index.errors import StorageError
from index.store.embedded import EmbeddedStorage
from index.store.embedded import vectors as vec
from index.store.lexical import fts_name
from retrieval.core import Core

SEED = int(os.environ.get("CITEBOT_TEST_SEED") or random.SystemRandom().randrange(10**6))
TOKEN = re.compile(r"\bzq[0-9a-f]{6,}\b")
WORDS = ("harbor council budget ferry bridge tolls mayor river museum school station rail "
         "vote grant library clinic park flood storm wind market farmers union strike port "
         "tunnel audit court judge police fire crew lane cyclist tram pier dock factory "
         "workers wages rent housing permit zoning").split()


def make_article(rng: random.Random, paragraphs: int | None = None) -> tuple[str, str]:
    """(title, text) of a small article whose paragraphs each hold a unique word."""
    count = paragraphs or rng.randint(2, 4)
    body = []
    for _ in range(count):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
        body.append(f"The zq{rng.getrandbits(40):010x} report said the {words} plan moved.")
    return f"Story {rng.getrandbits(24):06x} on the {rng.choice(WORDS)}", "\n\n".join(body)


def collections(storage: EmbeddedStorage) -> list[str]:
    rows = storage.sql.db().execute(
        "SELECT name FROM collections UNION SELECT collection FROM articles").fetchall()
    return sorted(r[0] for r in rows)


def problems(core: Core, *, allow_staged: bool = False) -> list[str]:
    """Everything that breaks the storage invariants, after (re)opening; [] when consistent.

    ``allow_staged`` accepts staged rows (never searched) left in a process whose disk failed
    while it tried to discard them; opening again must discard them."""
    storage = core.storage
    assert isinstance(storage, EmbeddedStorage)
    db = storage.sql.db()
    found = []
    check = db.execute("PRAGMA integrity_check").fetchall()
    if check != [("ok",)]:
        found.append(f"integrity_check: {check}")
    if db.execute("PRAGMA foreign_key_check").fetchall():
        found.append("foreign_key_check failed")
    for collection in collections(storage):
        found += [f"{collection}: {p}"
                  for p in _collection_problems(core, storage, collection, allow_staged)]
    return found


def _collection_problems(core: Core, storage: EmbeddedStorage, collection: str,
                         allow_staged: bool) -> list[str]:
    db = storage.sql.db()
    found = []
    paras = dict(db.execute(
        "SELECT p.id, p.text FROM paragraphs p JOIN articles a ON a.pk = p.article_pk "
        "WHERE a.collection = ?", (collection,)).fetchall())
    fts = fts_name(collection)
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (fts,)).fetchone():
        try:
            db.execute(f"INSERT INTO {fts}({fts}) VALUES('integrity-check')")
        except sqlite3.DatabaseError as exc:
            found.append(f"FTS integrity-check: {exc}")
        rows = {r[0] for r in db.execute(f"SELECT rowid FROM {fts}")}
        if rows != set(paras):
            found.append(f"FTS rows without paragraphs {sorted(rows - set(paras))[:5]}, "
                         f"paragraphs without FTS rows {sorted(set(paras) - rows)[:5]}")
    elif paras:
        found.append("paragraphs but no FTS table")
    live = {r[0]: r[1] for r in db.execute(
        "SELECT id, paragraph_id FROM chunks WHERE collection = ? AND live = 1", (collection,))}
    if set(paras) - set(live.values()):
        found.append(f"paragraphs without live vectors: {sorted(set(paras) - set(live.values()))[:5]}")
    loaded = storage._index(collection)
    held = loaded.index.ids()
    if sorted(held.tolist()) != sorted(live):
        found.append(f"vector index holds {len(held)} ids, SQLite {len(live)} live chunks "
                     f"(extra {sorted(set(held.tolist()) - set(live))[:5]}, "
                     f"missing {sorted(set(live) - set(held.tolist()))[:5]})")
    elif loaded.index.kind == "flat" and len(held):
        ids, _, want = storage.sql.chunk_vectors(collection, held.tolist(), dim=storage.dim)
        got = dict(zip(held.tolist(), loaded.index.vectors(), strict=True))
        if not np.allclose(np.stack([got[i] for i in ids.tolist()]), want, atol=1e-6):
            found.append("vector index holds vectors that differ from SQLite's")
    staged = db.execute("SELECT count(*) FROM chunks WHERE collection = ? AND live = 0",
                        (collection,)).fetchone()[0]
    if staged and not allow_staged:
        found.append(f"{staged} staged rows left after opening")
    query = core.embedder.embed_query("harbor council budget")
    dense = {p for p, _ in storage.dense_search(collection, query, max(1, len(live)))}
    if dense != set(paras):
        found.append(f"dense search reaches {len(dense)} of {len(paras)} paragraphs "
                     f"(unknown: {sorted(dense - set(paras))[:5]})")
    for pid, text in paras.items():
        token = TOKEN.search(text)
        if token and pid not in {p for p, _ in storage.lexical_search(
                collection, token.group(), 5)}:
            found.append(f"lexical search misses paragraph {pid}")
            break
    return found


def disk_problems(storage: EmbeddedStorage) -> list[str]:
    """What is wrong with the committed vector files, read before anything repairs them: a
    committed manifest must load, and one at SQLite's generation must hold exactly its live
    chunks (one at an older generation is stale, and repaired on open)."""
    found = []
    db = storage.sql.db()
    for collection in collections(storage):
        directory = storage.collection_dir(collection)
        try:
            opened = vec.VectorIndex.load(directory, storage.model, storage.dim)
        except StorageError as exc:
            found.append(f"{collection}: committed vector file unusable: {exc}")
            continue
        if opened is None:
            continue
        db.execute("BEGIN")  # one snapshot
        generation = storage.sql.collection_state(collection)[0]
        live = sorted(r[0] for r in db.execute(
            "SELECT id FROM chunks WHERE collection = ? AND live = 1", (collection,)))
        db.execute("COMMIT")
        saved = opened[1].generation
        if saved > generation:
            found.append(f"{collection}: vector file at generation {saved} > SQLite {generation}")
        elif saved == generation and sorted(opened[0].ids().tolist()) != live:
            found.append(f"{collection}: vector file claims generation {saved} but holds "
                         "other chunks than SQLite's live ones")
    return found


def state(core: Core, collection: str) -> tuple[object, ...]:
    """What a person can observe of a collection: its articles, and search results by content."""
    storage = core.storage
    arts = tuple(sorted((a.id, a.title, a.content_hash) for a in storage.list_articles(
        collection, limit=-1)))
    results = []
    for question in ("harbor council budget", "ferry bridge tolls", "police court judge"):
        q = core.embedder.embed_query(question)
        for hits in (storage.dense_search(collection, q, 1000),  # all: no cut between ties
                     storage.lexical_search(collection, question, 1000)):
            texts = storage.passages(collection, [p for p, _ in hits])
            results.append(tuple(sorted(  # ties in any order
                ((texts[p].article.id, texts[p].number, round(s, 4)) for p, s in hits),
                key=lambda r: (-r[2], r[0], r[1]))))
    return arts, tuple(results)


@pytest.fixture(scope="module")
def figures(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Lines a module reports; printed at its end, visible without ``-s``."""
    lines: list[str] = []
    yield lines
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        if request.config.get_terminal_writer().width_of_current_line:
            reporter.write("\n")  # after the progress dots
        name = request.module.__name__.rpartition(".")[2]
        reporter.write_line(f"{name}: seed {SEED} (CITEBOT_TEST_SEED={SEED} repeats it)")
        for line in lines:
            reporter.write_line(line)


def settings_for(data_dir: Path):  # type: ignore[no-untyped-def]
    from config.settings import Settings

    return Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
