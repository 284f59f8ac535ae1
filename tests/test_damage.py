"""Damage that must not go unnoticed: a store that existed never silently becomes empty or
smaller, and the evidence of what it held (vector files, manifests, the identity file) is never
overwritten.

A database deleted, emptied, replaced by another store's or damaged is refused when the store
opens; a database that holds less than a collection's manifest says it saved (an older
generation, fewer vectors at the same one) is refused when the collection opens. Legitimate
changes keep working: removing articles, a vector file left behind SQLite by a crash, a new
data directory, a collection never created, a store from before the identity file.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from index.errors import DamagedStoreError, StorageError
from index.store.embedded import EmbeddedStorage, failures, integrity
from index.store.embedded import vectors as vec
from retrieval.core import Core
from tests.fakes import HashEmbedder
from tests.storage_checks import SEED, make_article, problems, settings_for

RESTORE = "restore citebot.sqlite3 from a backup"


def _open(data: Path) -> Core:
    return Core.open(settings_for(data), embedder=HashEmbedder())


def _add(core: Core, collection: str, count: int, rng: random.Random) -> None:
    for _ in range(count):
        title, text = make_article(rng, 3)
        core.indexer.add_text(collection, title=title, text=text)


def _filled(data: Path, news: int = 4) -> dict[str, object]:
    """A closed store: ``news`` articles in "news", two in "other"; the figures of "news"."""
    core = _open(data)
    rng = random.Random(SEED)
    _add(core, "news", news, rng)
    _add(core, "other", 2, rng)
    stats = core.storage.stats("news")
    core.close()
    return stats


def _evidence(data: Path) -> dict[str, bytes]:
    """Every file that records what the store held, besides the database (lock files are
    created empty on use)."""
    files = [data / integrity.MARKER, *(data / "collections").rglob("*")]
    return {str(p.relative_to(data)): p.read_bytes() for p in files
            if p.is_file() and p.suffix != ".lock"}


def _sql(data: Path) -> sqlite3.Connection:
    return sqlite3.connect(data / "citebot.sqlite3", isolation_level=None)


# -- the store -------------------------------------------------------------------------------

def _truncate(data: Path) -> None:
    (data / "citebot.sqlite3").write_bytes(b"")


def _delete(data: Path) -> None:
    (data / "citebot.sqlite3").unlink()


def _delete_with_identity(data: Path) -> None:
    """Database and identity file gone: the vector files alone tell that a store was here."""
    (data / "citebot.sqlite3").unlink()
    (data / integrity.MARKER).unlink()


@pytest.mark.parametrize("harm", [_truncate, _delete, _delete_with_identity],
                         ids=["truncated to 0 bytes", "deleted", "deleted with its identity"])
def test_a_missing_or_empty_database_is_refused_not_started_afresh(harm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    _filled(data)
    before = _evidence(data)
    harm(data)
    with pytest.raises(DamagedStoreError) as refused:
        _open(data)
    message = str(refused.value)
    assert RESTORE in message and "move the data directory aside" in message, message
    assert "the vector files of 2 collection(s) (news, other)" in message
    assert {k: v for k, v in _evidence(data).items() if k != integrity.MARKER} == {
        k: v for k, v in before.items() if k != integrity.MARKER}
    assert _evidence(data).get(integrity.MARKER) == (
        None if harm is _delete_with_identity else before[integrity.MARKER])
    db = data / "citebot.sqlite3"
    assert not db.exists() or db.stat().st_size == 0  # no new, empty database was started
    data.rename(tmp_path / "aside")  # the documented way to start over
    fresh = _open(data)
    assert fresh.storage.stats("news").articles == 0
    fresh.close()


def test_a_database_from_another_store_is_refused(tmp_path: Path) -> None:
    _filled(tmp_path / "a")
    _filled(tmp_path / "b", news=2)
    before = _evidence(tmp_path / "a")
    shutil.copy(tmp_path / "b" / "citebot.sqlite3", tmp_path / "a" / "citebot.sqlite3")
    with pytest.raises(DamagedStoreError, match="belongs to another citebot store"):
        _open(tmp_path / "a")
    assert _evidence(tmp_path / "a") == before


@pytest.mark.parametrize("seed", range(6))
def test_page_damage_is_refused_at_open(seed: int, tmp_path: Path) -> None:
    data = tmp_path / "data"
    _filled(data)
    before = _evidence(data)
    db = data / "citebot.sqlite3"
    _checkpoint(db)
    damaged = bytearray(db.read_bytes())
    rng = random.Random(seed)
    page = rng.randrange(1, len(damaged) // 4096)  # any page but the header's
    damaged[page * 4096:(page + 1) * 4096] = rng.randbytes(4096)
    db.write_bytes(bytes(damaged))
    with pytest.raises(StorageError) as refused:
        _open(data)
    assert RESTORE in str(refused.value), str(refused.value)
    assert _evidence(data) == before


def _checkpoint(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def test_a_store_from_before_the_identity_file_is_adopted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    stats = _filled(data)
    (data / integrity.MARKER).unlink()
    _sql(data).execute("DELETE FROM meta WHERE key = 'store_id'")
    core = _open(data)
    assert core.storage.stats("news") == stats
    core.close()
    stored = _sql(data).execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0]
    assert (data / integrity.MARKER).read_text().strip() == stored


def test_new_stores_and_new_collections_open(tmp_path: Path) -> None:
    core = _open(tmp_path / "data")
    assert core.storage.stats("never-created").articles == 0
    _add(core, "news", 1, random.Random(SEED))
    core.close()
    assert (tmp_path / "data" / integrity.MARKER).exists()
    again = _open(tmp_path / "data")
    assert again.storage.stats("news").articles == 1
    assert again.storage.stats("never-created").vectors is None
    again.close()


# -- a collection ----------------------------------------------------------------------------

def _lose_chunks(data: Path) -> None:
    """Rows gone at the same generation (what page damage under the chunks table does)."""
    db = _sql(data)
    db.execute("DELETE FROM chunks WHERE id IN (SELECT id FROM chunks WHERE collection = 'news' "
               "ORDER BY id DESC LIMIT 5)")
    db.close()


def _lose_collection_row(data: Path) -> None:
    db = _sql(data)
    db.execute("DELETE FROM collections WHERE name = 'news'")
    db.close()


def _stale_copy_back(data: Path) -> None:
    """An older copy of the database put back: generation and rows from before the last adds."""
    shutil.copy(data.parent / "backup.sqlite3", data / "citebot.sqlite3")
    for wal in data.glob("citebot.sqlite3-*"):
        wal.unlink()


@pytest.mark.parametrize("harm, says", [
    (_lose_chunks, "the vector file holds 5 vector(s) the database does not"),
    (_lose_collection_row, "the database is at generation 0, older than"),
    (_stale_copy_back, "the database is at generation 2, older than"),
], ids=["rows lost", "collection row lost", "older copy put back"])
def test_a_database_holding_less_than_the_manifest_is_refused(  # type: ignore[no-untyped-def]
        harm, says: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    core = _open(data)
    _add(core, "other", 2, random.Random(SEED - 1))
    _add(core, "news", 2, random.Random(SEED))
    core.storage.sql.db().execute(  # type: ignore[attr-defined]
        f"VACUUM INTO '{tmp_path / 'backup.sqlite3'}'")
    _add(core, "news", 2, random.Random(SEED + 1))
    core.close()
    before = _evidence(data)
    harm(data)
    core = _open(data)  # the store itself is sound
    for attempt in (lambda: core.storage.stats("news"),
                    lambda: core.answerer.ask("news", "harbor council budget"),
                    lambda: _add(core, "news", 1, random.Random(SEED + 2)),
                    lambda: core.indexer.rebuild("news")):
        with pytest.raises(DamagedStoreError) as refused:
            attempt()
        message = str(refused.value)
        assert (says in message or "database holds" in message) and RESTORE in message, message
        assert "move the folder collections/news out of the data directory, then run " \
            "`citebot rebuild --collection news`" in message
    assert core.storage.stats("other").articles == 2  # other collections keep working
    core.close()
    assert _evidence(data) == before
    shutil.move(data / "collections" / "news", tmp_path / "news-aside")  # keep this database
    kept = _open(data)
    kept.indexer.rebuild("news")
    assert problems(kept) == []
    kept.close()


def test_rows_lost_while_open_are_refused_not_dropped_from_the_index(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _filled(data)
    core = _open(data)
    query = core.embedder.embed_query("harbor council budget")
    assert core.storage.dense_search("news", query, 5)
    before = _evidence(data)
    other = _sql(data)  # what damage does under a running bot: SQLite goes back
    other.execute("UPDATE collections SET generation = generation - 1 WHERE name = 'news'")
    other.execute("DELETE FROM chunks WHERE id = (SELECT max(id) FROM chunks "
                  "WHERE collection = 'news')")
    other.close()
    with pytest.raises(DamagedStoreError, match="older than the generation"):
        core.storage.dense_search("news", query, 5)
    core.close()
    assert _evidence(data) == before


def test_extra_vectors_at_the_same_generation_are_a_loss_of_the_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _filled(data)
    directory = data / "collections" / "news"
    opened = vec.VectorIndex.load(directory, "hash-test", 64)
    assert opened is not None
    index, manifest = opened
    index.add(np.array([987_654], np.int64), np.ones((1, 64), np.float32) / 8.0)
    index.save(directory, vec.Manifest(manifest.model, manifest.dim, index.count, index.kind,
                                       manifest.built_at, manifest.generation))
    before = _evidence(data)
    core = _open(data)
    with pytest.raises(DamagedStoreError, match="holds 1 vector"):
        core.storage.stats("news")
    core.close()
    assert _evidence(data) == before


def test_a_damaged_manifest_over_an_older_database_keeps_the_vector_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    core = _open(data)
    _add(core, "news", 2, random.Random(SEED))
    core.storage.sql.db().execute(  # type: ignore[attr-defined]
        f"VACUUM INTO '{tmp_path / 'backup.sqlite3'}'")
    _add(core, "news", 2, random.Random(SEED + 1))
    core.close()
    (data / "collections" / "news" / vec.MANIFEST).write_text('{"model": "hash')  # truncated
    _stale_copy_back(data)
    before = _evidence(data)
    core = _open(data)
    with pytest.raises(DamagedStoreError, match="older than the generation 4"):
        core.storage.stats("news")
    core.close()
    assert _evidence(data) == before  # the vector file named by generation 4 is still there


def test_legitimate_changes_keep_working(tmp_path: Path) -> None:
    """Removing articles lowers the count but raises the generation; a crash between SQLite's
    commit and the file's save leaves the file behind SQLite, which is repaired."""
    data = tmp_path / "data"
    _filled(data)
    behind = tmp_path / "behind"
    shutil.copytree(data / "collections" / "news", behind)
    core = _open(data)
    for article in core.storage.list_articles("news")[:2]:
        core.indexer.remove("news", article.id)
    core.close()
    again = _open(data)
    assert again.storage.stats("news").articles == 2
    again.close()
    shutil.rmtree(data / "collections" / "news")
    shutil.copytree(behind, data / "collections" / "news")  # the file from before the removals
    repaired = _open(data)
    assert repaired.storage.stats("news").vectors == 6
    assert problems(repaired) == []
    repaired.close()


def test_a_vector_file_is_never_saved_over_a_newer_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _filled(data)
    directory = data / "collections" / "news"
    opened = vec.VectorIndex.load(directory, "hash-test", 64)
    assert opened is not None
    manifest = opened[1]
    before = _evidence(data)
    older = vec.Manifest(manifest.model, manifest.dim, 0, "flat", 0.0, manifest.generation - 1)
    with pytest.raises(StorageError, match="newer than"):
        vec.VectorIndex(64).save(directory, older)
    assert _evidence(data) == before


def test_a_larger_database_is_checked_when_a_mismatch_is_seen(tmp_path: Path) -> None:
    """Above the size checked at every open, page damage is found when SQLite disagrees with a
    manifest (here, when the damage makes it hold fewer rows)."""
    data = tmp_path / "data"
    _filled(data)
    _lose_chunks(data)
    storage = EmbeddedStorage(data, model="hash-test", dim=64, quick_check_bytes=0)
    with pytest.raises(DamagedStoreError, match="quick_check finds the database file sound"):
        storage.stats("news")
    storage.close()


def test_damaged_text_is_reported_without_repeating_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _filled(data)
    db = _sql(data)
    db.execute("UPDATE articles SET title = CAST(X'436f6e666964656e7469616cff' AS TEXT) "
               "WHERE collection = 'news'")  # "Confidential" and a byte that is not UTF-8
    db.close()
    core = _open(data)
    with pytest.raises(StorageError) as refused:
        core.storage.list_articles("news")
    message = str(refused.value)
    assert message.endswith(f"What to do: {failures.BAD_TEXT}."), message
    assert "Confidential" not in message and "\\x" not in message
    core.close()


def test_an_empty_database_in_place_of_the_store_is_refused(tmp_path: Path) -> None:
    """A valid SQLite file that holds nothing, where a store was: refused, not adopted."""
    data = tmp_path / "data"
    _filled(data)
    db = data / "citebot.sqlite3"
    db.unlink()
    for wal in data.glob("citebot.sqlite3-*"):
        wal.unlink()
    empty = sqlite3.connect(db)
    empty.execute("CREATE TABLE t(x)")
    empty.close()
    before = _evidence(data)
    with pytest.raises(DamagedStoreError, match="holds nothing, but this data directory held"):
        _open(data)
    assert _evidence(data) == before


def test_rows_lost_under_an_unusable_vector_file_are_refused(tmp_path: Path) -> None:
    """With the vector file damaged, only the manifest's count can tell that rows were lost."""
    data = tmp_path / "data"
    _filled(data)
    directory = data / "collections" / "news"
    path = directory / json.loads((directory / vec.MANIFEST).read_text())["file"]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])  # checksum mismatch
    _lose_chunks(data)
    before = _evidence(data)
    core = _open(data)
    with pytest.raises(DamagedStoreError, match=r"the database holds \d+ vector\(s\), its "
                                                r"vector file's manifest \d+"):
        core.storage.stats("news")
    core.close()
    assert _evidence(data) == before


def test_an_unreadable_manifest_keeps_the_vector_files_until_a_repair_is_saved(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    _filled(data)
    directory = data / "collections" / "news"
    named = sorted(p.name for p in directory.glob("vectors.*.faiss"))
    (directory / vec.MANIFEST).write_text('{"model": "hash')  # truncated
    (directory / "manifest.json.tmp").mkdir()  # the repair cannot be committed
    core = _open(data)
    assert core.storage.stats("news").articles == 4  # repaired in memory, from SQLite
    core.close()
    assert sorted(p.name for p in directory.glob("vectors.*.faiss")) == named


def test_a_lost_identity_file_is_written_again_from_the_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _filled(data)
    stored = _sql(data).execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0]
    (data / integrity.MARKER).unlink()
    _open(data).close()
    assert (data / integrity.MARKER).read_text().strip() == stored
