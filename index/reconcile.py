"""Keeping a collection's vector index in step with SQLite, the source of truth.

When a collection is first used its vector file is loaded; whatever is wrong with it (a manifest
naming a missing file, a damaged or truncated file, a file from another model, a stale
generation, leftovers of an interrupted save) is repaired from SQLite and logged. Later, when
another process or a writer between its commit and its in-memory update has changed the
collection, the index catches up the same way, from one consistent snapshot of SQLite.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index import vectors as vec
from index.errors import IndexMismatchError, StorageError
from index.failures import LOW_LEVEL
from index.locks import CollectionLocks
from index.sqlite_store import SQLiteStore

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

    @property
    def changes(self) -> bool:
        return bool(len(self.extra) or len(self.ids))

    def describe(self) -> str:
        return f"{len(self.ids)} vectors added from SQLite, {len(self.extra)} removed"


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
            staged = sql.try_write("DELETE FROM chunks WHERE collection = ? AND live = 0",
                                   (collection,)) if held else None
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
        missing, extra = diff(index.ids(), want)
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
    return Plan(generation, extra, ids, vectors)


def diff(have: np.ndarray, want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(missing, extra): ids SQLite holds that the index lacks, and ids the index must drop
    (those SQLite does not hold, and any id the index holds more than once)."""
    held, counts = np.unique(have, return_counts=True)
    twice = held[counts > 1]
    extra = np.union1d(np.setdiff1d(held, want, assume_unique=True), twice)
    missing = np.setdiff1d(want, held[counts == 1], assume_unique=True)
    return missing, extra
