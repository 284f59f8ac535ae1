"""One writer at a time per collection, across threads and processes; readers never wait.

Two processes adding to one collection at once both succeed and lose nothing, and the vector
file left on disk holds exactly SQLite's live chunks. A process holding one collection's writer
lock blocks another process's writes to that collection, not to another collection. Searches
stay fast while another thread rebuilds the collection with a slow model, or holds a long
write transaction.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from config.settings import Settings
from index.indexer import Indexer, IndexerOptions
from index.store.embedded import EmbeddedStorage, vectors
from retrieval.core import Core
from tests.fakes import HashEmbedder
from tests.storage_checks import SEED, disk_problems, figures, make_article, problems, state

__all__ = ["figures"]

ROOT = Path(__file__).resolve().parents[1]


def _spawn(data_dir: Path, go: Path, seed: int, *specs: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.writer_worker", str(data_dir), str(go), str(seed), *specs],
        cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert json.loads(line or "{}").get("ready"), proc.stderr.read() if proc.stderr else line
    return proc


def _added(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    """The worker's lines up to the end of its adds."""
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(json.loads(line))
        if lines[-1] == {"added": True}:
            return lines
    raise AssertionError(proc.stderr.read() if proc.stderr else "worker died")


def _finish(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


def _collect(go: Path, workers: list[subprocess.Popen[str]]) -> list[list[dict[str, Any]]]:
    """Once the workers (started by touching ``go``) are done adding, let them check; every
    line each printed."""
    added = [_added(w) for w in workers]
    Path(str(go) + ".check").touch()
    return [a + _finish(w) for a, w in zip(added, workers, strict=True)]


def test_two_processes_adding_to_one_collection_lose_nothing(
    settings: Settings, tmp_path: Path, figures: list[str]
) -> None:
    Core.open(settings, embedder=HashEmbedder()).close()  # create the database once
    go = tmp_path / "go"
    workers = [_spawn(settings.data_dir, go, SEED + i, "news:12") for i in range(2)]
    go.touch()
    results = _collect(go, workers)
    adds = [[r for r in rs if "id" in r] for rs in results]
    for rs in results:
        assert rs[-1] == {"problems": []}  # each process's own view was consistent
    spans = [(min(a["start"] for a in w), max(a["end"] for a in w)) for w in adds]
    overlap = min(s[1] for s in spans) - max(s[0] for s in spans)
    assert overlap > 0, spans  # they really did write at the same time
    core = Core.open(settings, embedder=HashEmbedder())
    assert isinstance(core.storage, EmbeddedStorage)
    assert disk_problems(core.storage) == []  # the last file saved holds every add
    stored = {a.id for a in core.storage.list_articles("news", limit=-1)}
    wanted = {a["id"] for w in adds for a in w}
    assert len(wanted) == 24 and stored == wanted
    assert problems(core) == []
    core.close()
    figures.append(f"concurrency: 2 processes x 12 adds to one collection: {len(stored)}/24 "
                   f"kept, writing side by side for {overlap:.2f}s")


def test_a_writer_blocks_its_collection_in_other_processes_and_no_other(
    settings: Settings, tmp_path: Path, figures: list[str]
) -> None:
    hold_s = 1.5
    core = Core.open(settings, embedder=HashEmbedder())
    go = tmp_path / "go"
    worker = _spawn(settings.data_dir, go, SEED, "other:1", "news:1")
    assert isinstance(core.storage, EmbeddedStorage)
    with core.storage.writer("news"):
        go.touch()
        time.sleep(hold_s)
        released = time.time()
    [(other, news, _, last)] = _collect(go, [worker])
    assert last == {"problems": []}
    other_s = other["end"] - other["start"]
    assert other_s < hold_s / 3, other_s  # another collection did not wait
    assert news["end"] >= released  # this one did, until the lock was released
    core.close()
    figures.append(f"concurrency: while another process held the writer lock of 'news' for "
                   f"{hold_s:.1f}s, an add to 'other' took {other_s:.2f}s and an add to "
                   f"'news' waited {released - news['start']:.2f}s")


class SlowEmbedder(HashEmbedder):
    """The fake model, slowed down (a big model on a busy machine)."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s

    def embed(self, texts: list[str]) -> np.ndarray:
        time.sleep(self.delay_s)
        return super().embed(texts)


def _search_while(writer: Callable[[], None], core: Core) -> tuple[float, list[float]]:
    """Run ``writer`` in a thread and search until it ends: (its duration, search latencies)."""
    done = threading.Event()
    failed: list[BaseException] = []

    def run() -> None:
        try:
            writer()
        except BaseException as exc:
            failed.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=run)
    start = time.perf_counter()
    thread.start()
    latencies = []
    questions = ["who voted on the harbor budget?", "what happened to the ferry tolls?"]
    while not done.is_set():
        t = time.perf_counter()
        answer = core.answerer.ask("news", random.choice(questions))
        core.storage.lexical_search("news", "council budget", 10)
        latencies.append(time.perf_counter() - t)
        assert answer.passages  # the old index keeps answering
        time.sleep(0.01)
    thread.join()
    assert not failed, failed
    return time.perf_counter() - start, latencies


def test_searches_do_not_wait_for_a_rebuild_or_a_long_write(
    settings: Settings, figures: list[str]
) -> None:
    core = Core.open(settings, embedder=HashEmbedder())
    rng = random.Random(SEED)
    for _ in range(12):
        title, text = make_article(rng)
        core.indexer.add_text("news", title=title, text=text)
    before = state(core, "news")
    slow = Indexer(options=IndexerOptions.from_settings(settings), storage=core.storage, embedder=SlowEmbedder(0.1))
    storage = core.storage
    assert isinstance(storage, EmbeddedStorage)

    def long_write() -> None:
        with storage.writer("news"), storage.sql.write() as db:
            db.execute("UPDATE articles SET title = title WHERE collection = 'news'")
            time.sleep(1.0)

    lines = []
    for name, writer in (("rebuild with a slow model", lambda: slow.rebuild("news")),
                         ("write transaction", long_write)):
        took, latencies = _search_while(writer, core)
        worst = max(latencies)
        assert took > 0.9 and len(latencies) >= 10, (took, len(latencies))
        assert worst < took / 4, (name, worst, took)
        lines.append(f"{len(latencies)} searches during a {took:.1f}s {name}: median "
                     f"{statistics.median(latencies) * 1000:.0f} ms, max {worst * 1000:.0f} ms")
    assert state(core, "news") == before
    assert problems(core) == []
    core.close()
    figures.extend(f"concurrency: {line}" for line in lines)


def _filled(settings: Settings, count: int = 8) -> Core:
    core = Core.open(settings, embedder=HashEmbedder())
    rng = random.Random(SEED)
    for _ in range(count):
        title, text = make_article(rng)
        core.indexer.add_text("news", title=title, text=text)
    return core


def test_two_rebuilds_at_once_take_turns(settings: Settings, monkeypatch: Any) -> None:
    """A second rebuild started while the first is between reading its staged rows and
    swapping them in must not discard those rows (the first would swap in nothing)."""
    core = _filled(settings)
    before = state(core, "news")
    build = vectors.build
    second_started = threading.Event()
    counts: list[int] = []

    slow = Indexer(options=IndexerOptions.from_settings(settings), storage=core.storage, embedder=SlowEmbedder(0.05))

    def second() -> None:
        counts.append(slow.rebuild("news", lambda *_: second_started.set()))

    other = threading.Thread(target=second)

    def build_then_race(*args: Any) -> vectors.VectorIndex:
        if not other.is_alive() and not counts:
            other.start()
            second_started.wait(0.5)  # it waits for the first to finish (or, unguarded, races)
        return build(*args)

    monkeypatch.setattr(vectors, "build", build_then_race)
    first = core.indexer.rebuild("news")
    assert problems(core, allow_staged=True) == []  # the first one's result stands
    other.join()
    assert counts == [first]
    assert state(core, "news") == before
    assert problems(core) == []
    core.close()


def test_a_reader_catching_up_between_commit_and_apply_does_not_duplicate_vectors(
    settings: Settings,
) -> None:
    """A search right after a writer's commit, before the writer updates the in-memory index,
    catches the index up itself; the writer's update must then not add the vectors again."""
    core = _filled(settings, 3)
    storage = core.storage
    assert isinstance(storage, EmbeddedStorage)
    apply = storage._apply

    def reader_first(collection: str, *args: Any) -> None:
        reader = threading.Thread(target=lambda: storage.dense_search(
            collection, core.embedder.embed_query("harbor"), 5))
        reader.start()
        reader.join()
        apply(collection, *args)

    storage._apply = reader_first  # type: ignore[method-assign]
    title, text = make_article(random.Random(SEED + 1))
    core.indexer.add_text("news", title=title, text=text)
    assert problems(core) == []
    core.indexer.remove("news", storage.list_articles("news")[0].id)
    assert problems(core) == []
    core.close()


def test_a_search_racing_a_rebuild_swap_still_answers(settings: Settings) -> None:
    """The vector ids a search found can be swapped away (by a rebuild in another thread)
    before it maps them to paragraphs; it then searches the new index instead of coming back
    empty."""
    core = _filled(settings, 4)
    storage = core.storage
    assert isinstance(storage, EmbeddedStorage)
    query = core.embedder.embed_query("harbor council budget")
    expected = sorted((storage.passages("news", [p])[p].text, round(s, 4))
                      for p, s in storage.dense_search("news", query, 100))
    mapping = storage.sql.chunk_paragraphs
    raced: list[bool] = []

    def swap_first(collection: str, ids: Any) -> dict[int, int]:
        if not raced:
            raced.append(True)
            worker = threading.Thread(target=lambda: core.indexer.rebuild("news"))
            worker.start()
            worker.join()
        return mapping(collection, ids)

    storage.sql.chunk_paragraphs = swap_first  # type: ignore[method-assign]
    found = sorted((storage.passages("news", [p])[p].text, round(s, 4))
                   for p, s in storage.dense_search("news", query, 100))
    assert raced and found == expected
    core.close()


def test_opening_the_collection_elsewhere_mid_rebuild_keeps_its_staged_rows(
    settings: Settings, monkeypatch: Any,
) -> None:
    """Another process opening the collection between a rebuild's reading of its staged rows
    and their swap must not discard them as leftovers of an interrupted rebuild."""
    core = _filled(settings)
    before = state(core, "news")
    storage = core.storage
    assert isinstance(storage, EmbeddedStorage)
    build = vectors.build

    def open_elsewhere_then_build(*args: Any) -> vectors.VectorIndex:
        other = EmbeddedStorage(settings.data_dir, model=storage.model, dim=storage.dim)
        try:
            other.stats("news")  # its first use of the collection tidies up
        finally:
            other.close()
        return build(*args)

    monkeypatch.setattr(vectors, "build", open_elsewhere_then_build)
    core.indexer.rebuild("news")
    assert state(core, "news") == before
    assert problems(core) == []
    core.close()


def test_an_article_removed_while_the_rebuild_embeds_it_is_left_out(settings: Settings) -> None:
    core = _filled(settings, 3)
    victim = core.storage.list_articles("news", limit=-1)[0]  # the first one a rebuild embeds
    removed: list[str] = []

    class RemovingEmbedder(HashEmbedder):
        def embed(self, texts: list[str]) -> np.ndarray:
            if not removed:  # a writer removes the article while its text is being embedded
                removed.append(core.indexer.remove("news", victim.id).id)
            return super().embed(texts)

    Indexer(options=IndexerOptions.from_settings(settings), storage=core.storage,
            embedder=RemovingEmbedder()).rebuild("news")
    assert removed == [victim.id]
    assert victim.id not in {a.id for a in core.storage.list_articles("news", limit=-1)}
    assert problems(core) == []
    core.close()


def test_a_search_waits_while_a_change_is_applied_in_memory() -> None:
    from index.store.embedded.locks import ReadWriteLock

    lock = ReadWriteLock()
    searched = threading.Event()

    def search() -> None:
        with lock.read():
            searched.set()

    with lock.write():
        reader = threading.Thread(target=search)
        reader.start()
        assert not searched.wait(0.3)  # never reads an index half changed
    assert searched.wait(5)
    reader.join()
