"""Vector indexes on disk: the only module that imports faiss.

One index per collection, a file of faiss vectors with a JSON manifest beside it. Files are
written to a temporary name, fsynced and swapped in with ``os.replace``, so a reader sees the
old index or the new one, never half of one. The vectors are derived data: SQLite holds a copy
of every vector and is the source of truth when the two disagree.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.errors import IndexMismatchError, StorageError

FORMAT = 1
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    """What a vector file holds and how it was built."""

    model: str
    dim: int
    count: int
    kind: str  # "flat" | "ivf-sq8"
    built_at: float
    generation: int
    format: int = FORMAT


class VectorIndex:
    """Cosine search over normalised vectors with int64 ids; not thread-safe on its own."""

    def __init__(self, dim: int, kind: str = "flat", index: faiss.Index | None = None) -> None:
        self.dim = dim
        self.kind = kind
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @property
    def count(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(_f32(vectors), ids.astype(np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self._index.remove_ids(ids.astype(np.int64))  # type: ignore[arg-type]

    def ids(self) -> np.ndarray:
        """Every id held (order unspecified)."""
        if isinstance(self._index, faiss.IndexIDMap2 | faiss.IndexIDMap):
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)
        invlists = faiss.extract_index_ivf(self._index).invlists
        assert invlists is not None
        parts = [
            faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
            for i in range(invlists.nlist)
            if invlists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def vectors(self) -> np.ndarray:
        """Every vector held, in the order of ``ids()`` (exact indexes only)."""
        flat: Any = faiss.downcast_index(self._index.index)  # type: ignore[attr-defined]
        return faiss.rev_swig_ptr(flat.get_xb(), self.count * self.dim).reshape(
            self.count, self.dim).copy()

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids of the k nearest vectors to each query row (id -1 when fewer)."""
        if self.count == 0:
            rows = query.shape[0]
            return np.zeros((rows, 0), np.float32), np.zeros((rows, 0), np.int64)
        scores, ids = self._index.search(_f32(query), min(k, self.count))
        return scores, ids

    def save(self, directory: Path, manifest: Manifest) -> None:
        """Write the vectors to a new file, then commit it by replacing the manifest.

        The manifest names the vector file it belongs to, so a crash at any point leaves the
        previous manifest and its file in place; older vector files are removed afterwards.
        """
        directory.mkdir(parents=True, exist_ok=True)
        name = f"vectors.{manifest.generation}.faiss"
        final = directory / name
        tmp = directory / (name + ".tmp")
        try:
            faiss.write_index(self._index, str(tmp))
            _fsync(tmp)
            os.replace(tmp, final)
            _write_json_atomic(directory / MANIFEST, {**asdict(manifest), "file": name})
            _fsync_dir(directory)
        except (OSError, RuntimeError) as exc:
            tmp.unlink(missing_ok=True)
            raise StorageError(
                f"Could not write the vector index in {directory.name}: {exc}") from exc
        for old in directory.glob("vectors.*.faiss*"):
            if old.name != name:
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, directory: Path, model: str, dim: int) -> tuple[VectorIndex, Manifest] | None:
        """Open the index committed in ``directory``; None when there is none yet.

        Raises IndexMismatchError when it was built with another model.
        """
        mpath = directory / MANIFEST
        if not mpath.exists():
            return None
        try:
            data = json.loads(mpath.read_text(encoding="utf-8"))
            file = directory / str(data.pop("file"))
            manifest = Manifest(**data)
        except (ValueError, TypeError, KeyError) as exc:
            raise StorageError(f"The manifest in {directory.name} is unreadable: {exc}") from exc
        if manifest.model != model or manifest.dim != dim:
            raise IndexMismatchError(
                f"This index was built with the model {manifest.model!r} ({manifest.dim} "
                f"dimensions) but citebot is configured with {model!r} ({dim}). "
                "Run `citebot rebuild` to re-embed every article with the configured model."
            )
        try:
            index = faiss.read_index(str(file))
        except RuntimeError as exc:
            raise StorageError(f"The vector index {file.name} is unreadable: {exc}") from exc
        if manifest.kind != "flat":
            ivf = faiss.extract_index_ivf(index)
            ivf.nprobe = nprobe_for(ivf.nlist)
        return cls(dim, manifest.kind, index), manifest


def build(ids: np.ndarray, vectors: np.ndarray, dim: int, approximate_above: int) -> VectorIndex:
    """A new index over these vectors: exact, or IVF with 8-bit scalar quantisation when large."""
    if len(ids) <= approximate_above:
        index = VectorIndex(dim)
        index.add(ids, vectors)
        return index
    nlist = ideal_nlist(len(ids))
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    sample = vectors[np.random.default_rng(0).permutation(len(ids))[: nlist * 40]]
    ivf.train(_f32(sample))
    ivf.nprobe = nprobe_for(nlist)
    ivf.add_with_ids(_f32(vectors), ids.astype(np.int64))
    return VectorIndex(dim, "ivf-sq8", ivf)


def ideal_nlist(count: int) -> int:
    return int(max(1, min(16_384, 4 * np.sqrt(count), count // 39)))


def needs_retrain(index: VectorIndex) -> bool:
    """Whether an approximate index has outgrown its clustering (4x the vectors it was sized
    for), so lists got long and queries slow."""
    if index.kind == "flat":
        return False
    nlist = faiss.extract_index_ivf(index._index).nlist
    return ideal_nlist(index.count) >= 2 * nlist


def nprobe_for(nlist: int) -> int:
    """Lists searched per query: chosen for recall@10 >= 0.98 (benchmarks/bench.py measures)."""
    return max(16, nlist // 16)


def _f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _write_json_atomic(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
