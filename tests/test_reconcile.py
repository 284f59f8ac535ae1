"""Start-up reconciliation: whatever is wrong with a collection's vector file, opening the
collection repairs it from SQLite, logs what it did (INFO), and saves the repair, so the next
open has nothing to do."""

from __future__ import annotations

import json
import logging
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from config.settings import Settings
from index.store.embedded import EmbeddedStorage
from index.store.embedded import vectors as vec
from retrieval.core import Core
from tests.fakes import HashEmbedder
from tests.storage_checks import SEED, make_article, problems, state

REPAIRED = "vector index repaired"


def _files(directory: Path) -> tuple[vec.VectorIndex, vec.Manifest]:
    opened = vec.VectorIndex.load(directory, "hash-test", 64)
    assert opened is not None
    return opened


def _resave(directory: Path, change: Callable[[vec.VectorIndex], None],
            generation_delta: int = 0) -> None:
    """Change the committed index and commit it again under its (or another) generation."""
    index, manifest = _files(directory)
    change(index)
    if generation_delta < 0:  # citebot never saves a generation older than the one on disk
        (directory / vec.MANIFEST).unlink()
    index.save(directory, vec.Manifest(manifest.model, manifest.dim, index.count, index.kind,
                                       manifest.built_at, manifest.generation + generation_delta))


def _drop_some(directory: Path) -> None:
    _resave(directory, lambda index: index.remove(index.ids()[:2]))


def _add_unknown(directory: Path) -> None:
    """An id SQLite no longer holds, in a file saved a generation back (a removal committed,
    then a crash before the file was saved). At SQLite's own generation that would be a loss
    of SQLite's, refused (tests/test_damage.py)."""
    vector = np.ones((1, 64), np.float32) / 8.0
    _resave(directory, lambda index: index.add(np.array([987_654], np.int64), vector),
            generation_delta=-1)


def _twice(directory: Path) -> None:
    def dup(index: vec.VectorIndex) -> None:
        ids = index.ids()[:1]
        index.add(ids, index.vectors()[:1])

    _resave(directory, dup)


def _stale_generation(directory: Path) -> None:
    _resave(directory, lambda index: None, generation_delta=-1)


def _missing_file(directory: Path) -> None:
    _, manifest = _files(directory)
    (directory / manifest.file).unlink()


def _flipped_bytes(directory: Path) -> None:
    _, manifest = _files(directory)
    path = directory / manifest.file
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 16] = bytes(b ^ 0x5A for b in data[middle:middle + 16])
    path.write_bytes(bytes(data))


def _truncated(directory: Path) -> None:
    _, manifest = _files(directory)
    path = directory / manifest.file
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def _garbage_manifest(directory: Path) -> None:
    (directory / vec.MANIFEST).write_text("{not json")


def _other_model(directory: Path) -> None:
    data = json.loads((directory / vec.MANIFEST).read_text())
    data["model"] = "some-other-model"
    (directory / vec.MANIFEST).write_text(json.dumps(data))


def _leftover_tmp(directory: Path) -> None:
    _, manifest = _files(directory)
    shutil.copy(directory / manifest.file, directory / "vectors.99.0badf00d.faiss.tmp")
    (directory / "manifest.json.tmp").write_text("{")
    shutil.copy(directory / manifest.file, directory / "vectors.1.0ldf11e5.faiss")


def _manifest_counts_fewer(directory: Path) -> None:
    """A manifest whose count disagrees with its (checksummed) file. (Counting more than the
    database holds would read as a loss of the database's, refused: tests/test_damage.py.)"""
    data = json.loads((directory / vec.MANIFEST).read_text())
    data["count"] -= 1
    (directory / vec.MANIFEST).write_text(json.dumps(data))


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "missing ids": (_drop_some, "2 vectors added from SQLite"),
    "extra ids in a stale file": (_add_unknown, "1 removed"),
    "an id held twice": (_twice, "1 vectors added from SQLite, 1 removed"),
    "stale generation": (_stale_generation, "the vector file was at generation"),
    "manifest naming a missing file": (_missing_file, "which is missing; rebuilding it"),
    "corrupt vector file": (_flipped_bytes, "damaged (checksum mismatch)"),
    "truncated vector file": (_truncated, "damaged (checksum mismatch)"),
    "unreadable manifest": (_garbage_manifest, "manifest.json is unreadable"),
    "file from another model": (_other_model, "built with another model"),
    "leftover .tmp files": (_leftover_tmp, "removed leftover files"),
    "manifest counting other vectors": (_manifest_counts_fewer, "does not match its manifest"),
}


def _filled(settings: Settings) -> tuple[object, Path]:
    core = Core.open(settings, embedder=HashEmbedder())
    rng = random.Random(SEED)
    for _ in range(3):
        title, text = make_article(rng, 3)
        core.indexer.add_text("news", title=title, text=text)
    before = state(core, "news")
    assert isinstance(core.storage, EmbeddedStorage)
    directory = core.storage.collection_dir("news")
    core.close()
    return before, directory


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_opening_repairs_the_vector_file_and_logs_it(
    damage: str, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    before, directory = _filled(settings)
    harm, message = DAMAGE[damage]
    harm(directory)
    caplog.set_level(logging.INFO, logger="index")
    core = Core.open(settings, embedder=HashEmbedder())
    assert state(core, "news") == before
    assert problems(core) == []
    repaired = [r for r in caplog.records if REPAIRED in r.getMessage()]
    assert len(repaired) == 1 and repaired[0].levelno == logging.INFO, caplog.text
    assert message in repaired[0].getMessage()
    core.close()
    assert not list(directory.glob("*.tmp"))
    assert len(list(directory.glob("vectors.*"))) == 1  # only the committed file is left
    caplog.clear()
    again = Core.open(settings, embedder=HashEmbedder())  # the repair was saved
    assert state(again, "news") == before
    assert REPAIRED not in caplog.text
    again.close()


def test_staged_rows_of_a_killed_rebuild_are_discarded_on_opening(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    before, _ = _filled(settings)
    core = Core.open(settings, embedder=HashEmbedder())
    sql = core.storage.sql  # type: ignore[attr-defined]
    with sql.write() as db:  # what a rebuild killed while staging leaves
        db.execute('INSERT INTO chunks(paragraph_id, collection, start, "end", live, vector) '
                   'SELECT paragraph_id, collection, start, "end", 0, vector FROM chunks')
    core.close()
    caplog.set_level(logging.INFO, logger="index")
    reopened = Core.open(settings, embedder=HashEmbedder())
    assert state(reopened, "news") == before
    assert problems(reopened) == []
    assert "discarded 9 staged rows of an interrupted rebuild" in caplog.text
    reopened.close()


def test_a_vector_file_that_cannot_be_written_leaves_searches_working(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The file is derived: failing to write it costs a warning, not the add."""
    before, directory = _filled(settings)
    core = Core.open(settings, embedder=HashEmbedder())
    state(core, "news")
    blocker = directory / "manifest.json.tmp"
    blocker.mkdir()  # the manifest cannot be written now (IsADirectoryError)
    title, text = make_article(random.Random(SEED + 1))
    assert core.indexer.add_text("news", title=title, text=text).status == "added"
    assert "could not save the vector index" in caplog.text
    assert problems(core) == []  # searches use the index in memory
    after = state(core, "news")
    assert after != before
    core.close()
    blocker.rmdir()
    reopened = Core.open(settings, embedder=HashEmbedder())
    assert state(reopened, "news") == after
    assert problems(reopened) == []
    reopened.close()
