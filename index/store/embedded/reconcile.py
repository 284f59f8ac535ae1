"""Keeping a collection's vector index in step with SQLite, the source of truth.

When a collection is first used its vector file is loaded; whatever is wrong with it (a manifest
naming a missing file, a damaged or truncated file, a file from another model, a stale
generation, leftovers of an interrupted save) is repaired from SQLite and logged. Later, when
another process or a writer between its commit and its in-memory update has changed the
collection, the index catches up the same way, from one consistent snapshot of SQLite.

Repairs only ever go up to SQLite. A file is saved after SQLite commits, so SQLite at an older
generation than a file (or, at the file's own generation, lacking vectors it holds) has lost
data: that is refused with a DamagedStoreError, and the files are left as they are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.errors import IndexMismatchError, StorageError
from index.store.embedded import vectors as vec
from index.store.embedded.failures import LOW_LEVEL
from index.store.embedded.integrity import collection_lost
from index.store.embedded.locks import CollectionLocks
from index.store.embedded.sqlite_store import SQLiteStore

log = logging.getLogger(__name__)

_BATCH = 10_000  # ids per query (SQLite allows 32,766 variables)


@dataclass
class Loaded:
    """A collection's in-memory index and the SQLite generation it holds exactly."""

    index: vec.VectorIndex
    generation: int


@dataclass(frozen=True)
class Plan:
    """What to change so that an index holds exactly a generation's live chunks."""

    generation: int
    extra: np.ndarray  # ids to remove
    ids: np.ndarray  # ids to add, with their vectors
    vectors: np.ndarray
    live: int  # the generation's live chunks
    gone: int  # distinct ids the index holds that are not live in SQLite

    @property
    def changes(self) -> bool:
        return bool(len(self.extra) or len(self.ids))

    def describe(self) -> str:
        return f"{len(self.ids)} vectors added from SQLite, {len(self.extra)} removed"


@dataclass
class Opened:
    """A collection's index as first read from its files, before catching up with SQLite."""

    loaded: Loaded
    saved_at: int | None  # the generation its file was saved at; None without a usable one
    notes: list[str]  # what was wrong or tidied
    claim: vec.Claim | None  # what the files said the collection held, read before SQLite


def open_collection(directory: Path, collection: str, locks: CollectionLocks,
                    sql: SQLiteStore, model: str, dim: int) -> Opened:
    """Read a collection's committed index, tidying what interrupted saves left. Refuses
    (DamagedStoreError), before changing anything, when SQLite is older than the files."""
    claim = vec.claim(directory)  # first: a file is only ever saved after SQLite committed
    refuse_older(sql, collection, directory, claim, counts=False)
    notes = tidy(directory, collection, locks, sql)
    index, saved_at, problems = open_file(directory, model, dim)
    return Opened(Loaded(index, -1 if saved_at is None else saved_at), saved_at,
                  notes + problems, claim)


def refuse_older(sql: SQLiteStore, collection: str, directory: Path,
                 claim: vec.Claim | None, *, counts: bool) -> None:
    """DamagedStoreError when SQLite is at an older generation than ``claim`` (or, with
    ``counts``, holds fewer live vectors at the same one)."""
    if claim is None:
        return
    with sql.snapshot():
        generation = sql.collection_state(collection)[0]
        live = sql.live_count(collection) if counts else None
    detail = _older(generation, claim.generation)
    if detail is None and live is not None and claim.generation == generation \
            and claim.count is not None and live < claim.count:
        detail = _fewer(generation, live, claim.count)
    if detail:
        raise collection_lost(sql, collection, _folder(directory), detail)


def refuse_loss(sql: SQLiteStore, collection: str, directory: Path, plan: Plan,
                opened: Opened, *, from_disk: bool) -> None:
    """DamagedStoreError when catching ``plan`` up would drop what SQLite lost: its
    generation went back, or (an index just read from disk) at the generation the file was
    saved at it lacks vectors the file holds, or the manifest counted."""
    saved_at, claim, detail = opened.saved_at, opened.claim, None
    if saved_at is not None and plan.generation < saved_at:
        detail = _older(plan.generation, saved_at)
    elif from_disk and saved_at == plan.generation and plan.gone:
        detail = (f"at generation {plan.generation} the vector file holds {plan.gone} "
                  "vector(s) the database does not")
    elif (from_disk and saved_at is None and claim is not None and claim.count is not None
          and claim.generation == plan.generation and plan.live < claim.count):
        detail = _fewer(plan.generation, plan.live, claim.count)
    if detail:
        raise collection_lost(sql, collection, _folder(directory), detail)


def _older(generation: int, saved_at: int) -> str | None:
    if generation >= saved_at:
        return None
    return (f"the database is at generation {generation}, older than the generation "
            f"{saved_at} its vector file was saved at")


def _fewer(generation: int, live: int, counted: int) -> str:
    return (f"at generation {generation} the database holds {live} vector(s), its vector "
            f"file's manifest {counted}")


def _folder(directory: Path) -> str:
    return f"{directory.parent.name}/{directory.name}"


def open_file(directory: Path, model: str, dim: int) -> tuple[vec.VectorIndex, int | None,
                                                             list[str]]:
    """The committed index in ``directory`` (empty when there is none or it is unusable), the
    generation it was saved at (None without one), and what was wrong with it."""
    for attempt in (1, 2):
        try:
            opened = vec.VectorIndex.load(directory, model, dim)
        except IndexMismatchError:
            return vec.VectorIndex(dim), None, ["the vector file was built with another model"]
        except StorageError as exc:
            if attempt == 1:
                continue  # a writer may have committed a new file while we read; look again
            return vec.VectorIndex(dim), None, [f"{exc}; rebuilding it from SQLite"]
        if opened is None:
            return vec.VectorIndex(dim), None, []
        return opened[0], opened[1].generation, []
    raise AssertionError("unreachable")


def tidy(directory: Path, collection: str, locks: CollectionLocks, sql: SQLiteStore) -> list[str]:
    """Remove what interrupted saves and rebuilds left behind (files the manifest does not
    name, staged rows), unless someone is writing or rebuilding right now; what was done."""
    if not directory.is_dir():
        return []
    notes = []
    try:
        with locks.attempt(collection, "writer") as held:
            removed = [_unlink(p) for p in vec.leftovers(directory)] if held else []
        if any(removed):
            notes.append("removed leftover files " + ", ".join(n for n in removed if n))
        with locks.attempt(collection, "rebuild") as held:
            staged = sql.try_discard_staged(collection) if held else None
        if staged:
            notes.append(f"discarded {staged} staged rows of an interrupted rebuild")
    except LOW_LEVEL as exc:
        log.warning("collection %s: could not tidy up (%s); will try again later",
                    collection, exc)
    return notes


def _unlink(path: Path) -> str:
    try:
        path.unlink()
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)
        return ""
    return path.name


def plan(sql: SQLiteStore, collection: str, index: vec.VectorIndex, dim: int) -> Plan:
    """What ``index`` needs to hold exactly the collection's live chunks, read from one
    snapshot of SQLite (so the generation and the chunks agree)."""
    with sql.snapshot():
        generation = sql.collection_state(collection)[0]
        want = sql.live_chunk_ids(collection)
        have = index.ids()
        missing, extra = diff(have, want)
        if len(missing) > len(want) // 2:  # mostly new: one scan beats many lookups
            ids, _, vectors = sql.chunk_vectors(collection, dim=dim)
            keep = np.isin(ids, missing)
            ids, vectors = ids[keep], vectors[keep]
        else:
            parts = [sql.chunk_vectors(collection, missing[i:i + _BATCH].tolist(), dim=dim)
                     for i in range(0, len(missing), _BATCH)]
            ids = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
            vectors = (np.concatenate([p[2] for p in parts]) if parts
                       else np.zeros((0, dim), np.float32))
    gone = len(np.setdiff1d(have, want))
    return Plan(generation, extra, ids, vectors, len(want), gone)


def diff(have: np.ndarray, want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(missing, extra): ids SQLite holds that the index lacks, and ids the index must drop
    (those SQLite does not hold, and any id the index holds more than once)."""
    held, counts = np.unique(have, return_counts=True)
    twice = held[counts > 1]
    extra = np.union1d(np.setdiff1d(held, want, assume_unique=True), twice)
    missing = np.setdiff1d(want, held[counts == 1], assume_unique=True)
    return missing, extra
