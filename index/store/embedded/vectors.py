"""Vector indexes on disk: the only module that imports faiss.

One index per collection, a file of faiss vectors with a JSON manifest beside it that names the
file and its checksum. Files are written to a temporary name, fsynced and swapped in with
``os.replace``, so a reader sees the old index or the new one, never half of one. The vectors
are derived data: SQLite holds a copy of every vector and is the source of truth when the two
disagree.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.errors import IndexMismatchError, StorageError

FORMAT = 1
MANIFEST = "manifest.json"
_FEW_QUERIES = 8  # searched on the calling thread alone


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
    file: str = ""  # the vector file this manifest commits
    sha256: str = ""  # of that file; empty in manifests written before checksums


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
        if query.shape[0] > _FEW_QUERIES:
            return self._index.search(_f32(query), min(k, self.count))
        with _one_thread():
            return self._index.search(_f32(query), min(k, self.count))

    def serialize(self) -> np.ndarray:
        """The index as bytes (a uint8 array), for ``write``."""
        return faiss.serialize_index(self._index)

    def save(self, directory: Path, manifest: Manifest) -> list[str]:
        """Write the index to a new file and commit it; see ``write``."""
        return write(directory, manifest, self.serialize())

    @classmethod
    def load(cls, directory: Path, model: str, dim: int) -> tuple[VectorIndex, Manifest] | None:
        """Open the index committed in ``directory``; None when there is none yet.

        Raises IndexMismatchError when it was built with another model, and StorageError when
        the manifest or the file it names is missing, unreadable or damaged.
        """
        mpath = directory / MANIFEST
        if not mpath.exists():
            return None
        try:
            data = json.loads(mpath.read_text(encoding="utf-8"))
            known = {f.name for f in fields(Manifest)}
            manifest = Manifest(**{k: v for k, v in data.items() if k in known})
        except (ValueError, TypeError, UnicodeDecodeError, AttributeError) as exc:
            raise StorageError(f"the manifest {MANIFEST} is unreadable ({exc})") from exc
        except OSError as exc:
            raise StorageError(f"the manifest {MANIFEST} cannot be read ({exc})") from exc
        if not manifest.file:
            raise StorageError(f"the manifest {MANIFEST} names no vector file")
        if manifest.model != model or manifest.dim != dim:
            raise IndexMismatchError(
                f"This index was built with the model {manifest.model!r} ({manifest.dim} "
                f"dimensions) but citebot is configured with {model!r} ({dim}). "
                "Run `citebot rebuild` to re-embed every article with the configured model."
            )
        index = _read_verified(directory / manifest.file, manifest)
        if index.ntotal != manifest.count or index.d != dim:
            raise StorageError(f"the vector file {manifest.file} does not match its manifest")
        if manifest.kind != "flat":
            ivf = faiss.extract_index_ivf(index)
            ivf.nprobe = nprobe_for(ivf.nlist)
        return cls(dim, manifest.kind, index), manifest


def write(directory: Path, manifest: Manifest, data: np.ndarray) -> list[str]:
    """Write serialized vectors to a new file, then commit it by replacing the manifest.

    The file gets a name no earlier save used, and the manifest names it (with its checksum),
    so a crash or an I/O error at any point leaves the previous manifest and its file intact.
    Afterwards other vector files and leftovers of interrupted saves are removed (call this
    only while holding the collection's writer lock); returns the leftovers removed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    committed_at = (_manifest(directory) or {}).get("generation")
    if isinstance(committed_at, int) and manifest.generation < committed_at:
        raise StorageError(f"Kept the vector index in {directory}: it was saved at generation "
                           f"{committed_at}, newer than {manifest.generation}.")
    name = f"vectors.{manifest.generation}.{secrets.token_hex(4)}.faiss"
    final = directory / name
    view = memoryview(np.ascontiguousarray(data, np.uint8).data)
    committed = False
    try:
        _write_atomic(final, view)
        body = json.dumps({**asdict(manifest), "file": name,
                           "sha256": hashlib.sha256(view).hexdigest()}, indent=2)
        _write_atomic(directory / MANIFEST, body.encode())
        committed = True
        _fsync_dir(directory)
    except (OSError, RuntimeError) as exc:
        if not committed:
            _unlink(final)
        raise StorageError(
            f"Could not write the vector index in {directory} ({exc}).") from exc
    removed = []
    for old in directory.iterdir():
        if old.name != name and (old.name.startswith("vectors.") or old.suffix == ".tmp"):
            if old.suffix == ".tmp":
                removed.append(old.name)
            _unlink(old)
    return removed


def leftovers(directory: Path) -> list[Path]:
    """Files of ``directory`` that its manifest does not need: interrupted saves (``*.tmp``)
    and vector files of older generations (kept while the manifest is unreadable: they are
    the evidence of what the collection held, until a repair commits a new file)."""
    keep = (_manifest(directory) or {}).get("file")
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name != keep and (
        p.suffix == ".tmp" or (keep is not None and p.name.startswith("vectors."))))


@dataclass(frozen=True)
class Claim:
    """What a collection's committed files say it held when they were saved."""

    generation: int
    count: int | None  # None when only a vector file's name is left to tell the generation


def claim(directory: Path) -> Claim | None:
    """The generation (and vector count) the files in ``directory`` were saved at: the
    manifest's, or the newest in a vector file's name when that is higher or the manifest is
    unreadable; None when there are no such files."""
    data = _manifest(directory) or {}
    generation, count = data.get("generation"), data.get("count")
    generation = generation if isinstance(generation, int) else None
    named = [int(p.name.split(".")[1]) for p in _vector_files(directory)]
    if named and (generation is None or max(named) > generation):
        return Claim(max(named), None)
    if generation is None:
        return None
    return Claim(generation, count if isinstance(count, int) else None)


def _vector_files(directory: Path) -> list[Path]:
    """Committed-looking vector files (``vectors.<generation>.<token>.faiss``)."""
    return [p for p in directory.glob("vectors.*.faiss")
            if p.name.split(".")[1].isdigit()] if directory.is_dir() else []


def _manifest(directory: Path) -> dict[str, Any] | None:
    """The manifest's fields as saved, None when it is missing or unreadable."""
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read_verified(path: Path, manifest: Manifest) -> faiss.Index:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise StorageError(f"the manifest names {path.name}, which is missing") from exc
    except OSError as exc:
        raise StorageError(f"the vector file {path.name} cannot be read ({exc})") from exc
    if manifest.sha256 and hashlib.sha256(data).hexdigest() != manifest.sha256:
        raise StorageError(f"the vector file {path.name} is damaged (checksum mismatch)")
    try:
        return faiss.deserialize_index(np.frombuffer(data, np.uint8))
    except RuntimeError as exc:
        raise StorageError(f"the vector file {path.name} is unreadable ({exc})") from exc


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


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run faiss on the calling thread alone for the block (the setting is per thread).

    For a few queries an OpenMP team costs more than it saves, and under CPU contention (the
    embedder busy on every core) its barrier waits for descheduled threads: a one-query search
    took 8 ms at the median instead of 0.07 ms.
    """
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _write_atomic(path: Path, data: bytes | memoryview) -> None:
    """Write to ``path.tmp``, fsync it, then rename it over ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path: Path) -> None:
    with suppress(OSError):  # a leftover is removed by the next save
        path.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
