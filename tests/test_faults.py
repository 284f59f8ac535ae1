"""Fault injection, the way SQLite's own I/O-error tests do it: make the Nth I/O call fail,
for N = 1, 2, ... until the operation no longer reaches a failing call.

The calls counted are the Python-level ones: every statement and commit on a SQLite connection
(``sqlite3.OperationalError('disk I/O error')``), and ``open`` for writing, ``write``,
``os.fsync`` and ``os.replace`` of the vector, manifest and lock files (``OSError(EIO)``). In
"transient" mode only the Nth call fails; in "persistent" mode the Nth and every later one do
(the disk stays broken), so clean-up code cannot lean on the disk recovering.

For each of add, update, remove and rebuild, and each N, the operation either fails with a
StorageError that says what to do and leaves everything as it was (same articles, same search
results, in the same process and after reopening), or succeeds completely: a failure after
SQLite's commit only costs the derived vector file, which the next open repairs.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import random
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from index.errors import StorageError
from index.store.embedded import failures, locks, vectors
from retrieval.core import Core
from tests.fakes import HashEmbedder
from tests.storage_checks import SEED, figures, make_article, problems, settings_for, state

__all__ = ["figures"]


class Faults:
    """Counts I/O calls while armed and makes the Nth (and, persistent, every later) one fail."""

    def __init__(self) -> None:
        self.armed = False
        self.n = 0
        self.persistent = False
        self.calls: list[str] = []
        self.fired: list[str] = []

    def arm(self, n: int, persistent: bool = False) -> None:
        self.armed, self.n, self.persistent, self.calls, self.fired = True, n, persistent, [], []

    def hit(self, what: str, error: Callable[[], Exception]) -> None:
        if not self.armed:
            return
        self.calls.append(what)
        if len(self.calls) == self.n or (self.persistent and len(self.calls) > self.n):
            self.fired.append(what)
            raise error()


FAULTS = Faults()


def _sql_error() -> Exception:
    return sqlite3.OperationalError("disk I/O error")


def _os_error() -> Exception:
    return OSError(errno.EIO, "Input/output error")


class FaultyConnection(sqlite3.Connection):
    """A connection whose statements and commits go through FAULTS."""

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        FAULTS.hit("sqlite " + sql.split(None, 1)[0].upper(), _sql_error)
        return super().execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        FAULTS.hit("sqlite " + sql.split(None, 1)[0].upper(), _sql_error)
        return super().executemany(sql, *args)

    def executescript(self, script: str) -> sqlite3.Cursor:  # type: ignore[override]
        FAULTS.hit("sqlite script", _sql_error)
        return super().executescript(script)

    def commit(self) -> None:
        FAULTS.hit("sqlite commit", _sql_error)
        super().commit()


class FaultyFile:
    """A file opened for writing whose writes go through FAULTS."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh

    def write(self, data: Any) -> int:
        FAULTS.hit("file write", _os_error)
        return int(self._fh.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> FaultyFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


def faulty_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
    if any(m in mode for m in "wax+"):
        FAULTS.hit("file open", _os_error)
        return FaultyFile(open(file, mode, *args, **kwargs))
    return open(file, mode, *args, **kwargs)


def _wrap_os(name: str) -> Callable[..., Any]:
    real = getattr(os, name)

    def call(*args: Any, **kwargs: Any) -> Any:
        FAULTS.hit(f"os.{name}", _os_error)
        return real(*args, **kwargs)

    return call


@pytest.fixture
def faulty_io(monkeypatch: pytest.MonkeyPatch) -> Iterator[Faults]:
    """Route citebot's I/O through FAULTS (disarmed until a test arms it)."""
    monkeypatch.setattr(sqlite3, "connect", functools.partial(
        sqlite3.connect, factory=FaultyConnection))
    monkeypatch.setattr(os, "fsync", _wrap_os("fsync"))
    monkeypatch.setattr(os, "replace", _wrap_os("replace"))
    monkeypatch.setattr(vectors, "open", faulty_open, raising=False)
    monkeypatch.setattr(locks, "open", faulty_open, raising=False)
    FAULTS.armed = False
    yield FAULTS
    FAULTS.armed = False


# -- the operations ------------------------------------------------------------------------

def _add(core: Core, rng: random.Random) -> None:
    title, text = make_article(rng)
    core.indexer.add_text("news", title=title, text=text)


def _update(core: Core, rng: random.Random) -> None:
    title, text = make_article(rng)
    core.indexer.add_text("news", title=title, text=text, article_id="first")


def _remove(core: Core, rng: random.Random) -> None:
    core.indexer.remove("news", "first")


def _rebuild(core: Core, rng: random.Random) -> None:
    core.indexer.rebuild("news")


OPERATIONS: dict[str, Callable[[Core, random.Random], None]] = {
    "add": _add, "update": _update, "remove": _remove, "rebuild": _rebuild}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed data directory: three articles in "news", one in "other"."""
    data = tmp_path_factory.mktemp("faults") / "baseline"
    rng = random.Random(SEED)
    core = Core.open(settings_for(data), embedder=HashEmbedder())
    for i, collection in enumerate(("news", "news", "news", "other")):
        title, text = make_article(rng, 3)
        core.indexer.add_text(collection, title=title, text=text,
                              article_id="first" if i == 0 else None)
    core.close()
    return data


def _attempt(op: str, n: int, persistent: bool, baseline: Path, work: Path,
             caplog: pytest.LogCaptureFixture) -> tuple[str, tuple[object, ...], int]:
    """Run ``op`` with the Nth I/O call failing; check what it left. Returns the outcome
    ("failed", "saved-later": succeeded with the vector file left for repair, "ok": no call
    failed), the state after, and the number of I/O calls made."""
    data = work / f"{op}-{n}-{persistent}"
    shutil.copytree(baseline, data)
    core = Core.open(settings_for(data), embedder=HashEmbedder())
    before = state(core, "news")
    caplog.clear()
    FAULTS.arm(n, persistent)
    error: Exception | None = None
    try:
        OPERATIONS[op](core, random.Random(SEED + 1))
    except Exception as exc:
        error = exc
    finally:
        FAULTS.armed = False
    calls, fired = len(FAULTS.calls), list(FAULTS.fired)
    context = f"{op} N={n} persistent={persistent} (failed: {fired[:1]})"
    if error is not None:
        assert isinstance(error, StorageError), f"{context}: raw {error!r} escaped"
        assert "What to do:" in str(error), f"{context}: {error}"
        assert state(core, "news") == before, f"{context}: state changed in memory"
        outcome = "failed"
    else:
        outcome = "saved-later" if fired else "ok"
        if fired:
            assert "could not save the vector index" in caplog.text, context
    # a rebuild that failed discards its staged rows, unless the disk is still failing
    assert problems(core, allow_staged=persistent) == [], context
    after = state(core, "news")
    core.close()
    reopened = Core.open(settings_for(data), embedder=HashEmbedder())
    assert state(reopened, "news") == after, f"{context}: state changed on reopening"
    assert problems(reopened) == [], context
    reopened.close()
    shutil.rmtree(data)
    return outcome, after, calls


def _spans(outcomes: list[str], name: str) -> str:
    numbers = [i + 1 for i, o in enumerate(outcomes) if o == name]
    return f"{numbers[0]}..{numbers[-1]}" if numbers else "none"


@pytest.mark.parametrize("op", list(OPERATIONS))
@pytest.mark.parametrize("persistent", [False, True], ids=["transient", "persistent"])
def test_nth_io_call_failing_fails_cleanly_or_succeeds(
    op: str, persistent: bool, baseline: Path, tmp_path: Path, faulty_io: Faults,
    caplog: pytest.LogCaptureFixture, figures: list[str],
) -> None:
    caplog.set_level(logging.WARNING)
    _, expected, total = _attempt(op, 10**9, False, baseline, tmp_path, caplog)
    outcomes: list[str] = []
    for n in range(1, total + 2):
        outcome, after, _ = _attempt(op, n, persistent, baseline, tmp_path, caplog)
        outcomes.append(outcome)
        if outcome != "failed":
            assert after == expected, f"{op} N={n}: succeeded with a different result"
    assert outcomes[-1] == "ok", outcomes  # past the last I/O call nothing fails
    assert outcomes == sorted(outcomes, key=("failed", "saved-later", "ok").index), outcomes
    assert "failed" in outcomes
    mode = "persistent" if persistent else "transient"
    figures.append(
        f"faults ({mode}): {op}: failed cleanly at N={_spans(outcomes, 'failed')}, "
        f"succeeded with the vector file left for repair at N={_spans(outcomes, 'saved-later')}, "
        f"succeeded at N={len(outcomes)} ({total} I/O calls)")


def test_a_locked_database_is_a_storage_error_saying_try_again(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from index.store.embedded import sqlite_tx

    monkeypatch.setattr(sqlite_tx, "_BUSY_MS", 200)
    core = Core.open(settings, embedder=HashEmbedder())
    title, text = make_article(random.Random(SEED))
    other = sqlite3.connect(settings.data_dir / "citebot.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(StorageError, match="try again in a moment"):
            core.indexer.add_text("news", title=title, text=text)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert core.indexer.add_text("news", title=title, text=text).status == "added"
    assert problems(core) == []
    core.close()


# -- what to do: chosen from the kind of failure, never from its words ----------------------

def _os(code: int, path: str = "/srv/news-fulltext/citebot.sqlite3") -> OSError:
    return OSError(code, os.strerror(code), path)


@pytest.mark.parametrize("error, hint", [
    (_os(errno.EIO), failures.IO),  # a path saying "full" is no full disk
    (_os(errno.ENOSPC, "/srv/locked-corrupt/x"), failures.FULL),
    (_os(errno.EDQUOT), failures.QUOTA),
    (_os(errno.EROFS), failures.READ_ONLY),
    (_os(errno.EACCES), failures.PERMISSIONS),
    (_os(errno.ENOENT), failures.MISSING),
    (sqlite3.OperationalError("database is locked, full, malformed"), failures.GENERIC),
], ids=["EIO in news-fulltext", "ENOSPC in locked-corrupt", "EDQUOT", "EROFS", "EACCES",
        "ENOENT", "words without a result code"])
def test_the_hint_comes_from_the_kind_of_error(error: Exception, hint: str) -> None:
    message = str(failures.storage_error(error, "add the article"))
    assert message.endswith(f"What to do: {hint}."), message
    assert "fulltext" not in message  # the OS error's own words, not its path


def _real_sqlite_errors(tmp_path: Path) -> Iterator[tuple[sqlite3.Error, str]]:
    """Errors raised by SQLite itself, with their result codes."""
    db = tmp_path / "full.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE t(x)")
    conn.execute("PRAGMA max_page_count = 3")
    yield _raised(lambda: conn.execute("INSERT INTO t VALUES (zeroblob(100000))")), failures.FULL
    other = sqlite3.connect(db, isolation_level=None, timeout=0)
    conn.execute("BEGIN IMMEDIATE")
    yield _raised(lambda: other.execute("BEGIN IMMEDIATE")), failures.BUSY
    conn.execute("ROLLBACK")
    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    yield _raised(lambda: ro.execute("INSERT INTO t VALUES (1)")), failures.DB_READ_ONLY
    (tmp_path / "garbage.sqlite3").write_bytes(b"not a database at all " * 300)
    garbage = sqlite3.connect(tmp_path / "garbage.sqlite3")
    yield _raised(lambda: garbage.execute("SELECT * FROM sqlite_master")), failures.DAMAGED
    yield _raised(lambda: sqlite3.connect(tmp_path / "no" / "such.sqlite3")), \
        failures.CANT_OPEN


def _raised(call: Callable[[], object]) -> sqlite3.Error:
    try:
        call()
    except sqlite3.Error as exc:
        return exc
    raise AssertionError("no error")


def test_sqlite_errors_get_the_hint_of_their_result_code(tmp_path: Path) -> None:
    for error, hint in _real_sqlite_errors(tmp_path):
        assert failures.hint(error) == hint, (error, getattr(error, "sqlite_errorname", None))


def test_a_data_directory_named_fulltext_is_not_a_full_disk(tmp_path: Path) -> None:
    data = tmp_path / "news-fulltext"
    (data / "citebot.sqlite3").mkdir(parents=True)  # cannot be opened as a database
    with pytest.raises(StorageError) as refused:
        Core.open(settings_for(data), embedder=HashEmbedder())
    assert str(refused.value).endswith(f"What to do: {failures.CANT_OPEN}."), refused.value


# -- exporting the model to ONNX on a full or read-only disk ---------------------------------

def _enospc(path: object) -> None:
    with open(str(path), "wb") as fh:  # what a full disk leaves: part of the file
        fh.write(b"\0" * (1 << 20))
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _files(directory: Path) -> list[str]:
    """The files in ``directory`` but the export's lock (empty)."""
    return sorted(p.name for p in directory.rglob("*") if p.is_file() and p.name != "export.lock")


def test_onnx_export_on_a_full_disk_leaves_nothing_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from index.encode import onnx_encoder

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained",
                        lambda *args, **kwargs: torch.nn.Identity())
    monkeypatch.setattr(torch.onnx, "export", lambda model, args, f, **kwargs: _enospc(f))
    cache = tmp_path / "cache"
    with pytest.raises(StorageError) as refused:
        onnx_encoder.export(tmp_path / "model", cache, quantize=False)
    message = str(refused.value)
    assert failures.FULL in message and "CITEBOT_ENCODER=torch" in message, message
    assert _files(cache) == []


def test_onnx_quantising_on_a_full_disk_keeps_only_the_finished_export(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    quantization = pytest.importorskip("onnxruntime.quantization")
    from index.encode import onnx_encoder

    cache = tmp_path / "cache"
    exported = onnx_encoder.export_dir(tmp_path / "model", cache)
    exported.mkdir(parents=True)
    (exported / "model.onnx").write_bytes(b"exported")
    monkeypatch.setattr(quantization, "quantize_dynamic",
                        lambda source, target, **kwargs: _enospc(target))
    with pytest.raises(StorageError, match="the disk is full"):
        onnx_encoder.export(tmp_path / "model", cache, quantize=True)
    assert _files(cache) == ["model.onnx"]


def test_onnx_export_on_a_read_only_disk_is_a_storage_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from index.encode import onnx_encoder

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(StorageError) as refused:
        onnx_encoder.export(tmp_path / "model", tmp_path / "cache", quantize=False)
    assert failures.READ_ONLY in str(refused.value)


def test_auto_encoder_runs_with_torch_when_the_onnx_export_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import BUNDLED_MODEL
    from index.encode import embed, onnx_encoder

    def full(*args: object, **kwargs: object) -> Path:
        raise failures.storage_error(OSError(errno.ENOSPC, "No space left on device"),
                                     "export the model to ONNX")

    monkeypatch.setattr(onnx_encoder, "export", full)
    load = embed.load_embedder
    fallback = load(BUNDLED_MODEL, encoder="auto", cache_dir=tmp_path)
    assert isinstance(fallback, embed.SentenceTransformerEmbedder)
    assert fallback.embed(["a harbour ferry"]).shape == (1, fallback.dim)
    with pytest.raises(StorageError):
        load(BUNDLED_MODEL, encoder="onnx", cache_dir=tmp_path)
