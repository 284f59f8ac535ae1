"""Backups of the embedded store while it runs (`citebot backup`, `citebot restore`): taken
while articles are added, restored into a new directory they answer the same; a damaged or
foreign backup is refused with its reason; a store is never overwritten without --replace;
`kill -9` during a backup leaves the store intact."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from index.store.backup import CONTENTS, check_backup
from retrieval.core import Core
from tests.fakes import HashEmbedder
from tests.storage_checks import SEED, make_article, problems, settings_for, state

ROOT = Path(__file__).resolve().parents[1]
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def go(*args: str) -> tuple[int, str, str]:
        code = main(list(args), embedder=HashEmbedder())
        out, err = capsys.readouterr()
        return code, out, err
    return go


def _store(data_dir: Path, articles: int, seed: int = SEED) -> Core:
    rng = random.Random(seed)
    core = Core.open(settings_for(data_dir), embedder=HashEmbedder())
    for _ in range(articles):
        title, text = make_article(rng)
        core.indexer.add_text("news", title=title, text=text)
    return core


def _same(a: Path, b: Path) -> None:
    with Core.open(settings_for(a), embedder=HashEmbedder()) as one, \
            Core.open(settings_for(b), embedder=HashEmbedder()) as two:
        assert problems(two) == []
        assert state(one, "news") == state(two, "news")


def test_backup_while_adds_run_restores_and_answers_the_same(tmp_path: Path, run: Run) -> None:
    data = tmp_path / "data"
    core = _store(data, 20)
    stop = threading.Event()
    added = [20]

    def adding() -> None:
        rng = random.Random(SEED + 1)
        while not stop.is_set():
            title, text = make_article(rng)
            core.indexer.add_text("news", title=title, text=text)
            added[0] += 1

    writer = threading.Thread(target=adding)
    writer.start()
    try:
        taken = []
        for n in range(4):
            code, out, err = run("backup", str(tmp_path / f"b{n}"), "--data-dir", str(data))
            assert code == 0, err
            assert "checked" in out
            taken.append(check_backup(tmp_path / f"b{n}").articles)
    finally:
        stop.set()
        writer.join()
    assert 20 <= taken[0] <= taken[-1] <= added[0], (taken, added)
    for n in range(4):  # each, restored alone, is a consistent store
        code, _, err = run("restore", str(tmp_path / f"b{n}"), "--data-dir", str(tmp_path / f"r{n}"))
        assert code == 0, err
        with Core.open(settings_for(tmp_path / f"r{n}"), embedder=HashEmbedder()) as back:
            assert problems(back) == []
            assert back.stats("news").articles == taken[n]
    assert run("backup", str(tmp_path / "final"), "--data-dir", str(data))[0] == 0  # still open
    core.close()
    assert run("restore", str(tmp_path / "final"), "--data-dir", str(tmp_path / "new"))[0] == 0
    _same(data, tmp_path / "new")


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


def _vector_file(backup: Path) -> Path:
    return next(backup.glob("collections/*/vectors.*.faiss"))


DAMAGE: dict[str, tuple[Callable[[Path], object], str]] = {
    "database byte flipped": (lambda b: _flip_a_byte(b / "citebot.sqlite3"),
                              "citebot.sqlite3 is not what was written"),
    "vector file deleted": (lambda b: _vector_file(b).unlink(), "is missing"),
    "vector file truncated": (lambda b: _vector_file(b).write_bytes(b"\0" * 10),
                              "is not what was written"),
    "contents file deleted": (lambda b: (b / CONTENTS).unlink(), "is not a citebot backup"),
    "contents file cut short": (lambda b: (b / CONTENTS).write_text('{"kind": "citebot'),
                                "is unreadable"),
    "another program's directory": (
        lambda b: (b / CONTENTS).write_text(json.dumps({"kind": "photos", "files": {}})),
        "is not a citebot backup"),
    "a file outside the backup named": (
        lambda b: (b / CONTENTS).write_text((b / CONTENTS).read_text().replace(
            '"citebot.sqlite3"', '"../../etc/passwd"', 1)), "is not a citebot backup"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_or_foreign_backup_is_refused_with_its_reason(
        tmp_path: Path, run: Run, damage: str) -> None:
    _store(tmp_path / "data", 5).close()
    assert run("backup", str(tmp_path / "b"), "--data-dir", str(tmp_path / "data"))[0] == 0
    harm, reason = DAMAGE[damage]
    harm(tmp_path / "b")
    code, _, err = run("restore", str(tmp_path / "b"), "--data-dir", str(tmp_path / "new"))
    assert code == 1
    assert reason in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()


def test_a_directory_that_is_no_backup_is_refused(tmp_path: Path, run: Run) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    code, _, err = run("restore", str(tmp_path / "photos"), "--data-dir", str(tmp_path / "new"))
    assert code == 1 and f"has no {CONTENTS}" in err
    code, _, err = run("restore", str(tmp_path / "nowhere"), "--data-dir", str(tmp_path / "new"))
    assert code == 1 and "does not exist" in err


def test_a_store_is_never_overwritten_without_replace_nor_while_in_use(tmp_path: Path, run: Run) -> None:
    _store(tmp_path / "old", 6, seed=1).close()
    _store(tmp_path / "data", 3, seed=2).close()
    assert run("backup", str(tmp_path / "b"), "--data-dir", str(tmp_path / "old"))[0] == 0
    before = sorted((p.relative_to(tmp_path / "data"), p.read_bytes())
                    for p in (tmp_path / "data").rglob("*") if p.is_file())
    code, _, err = run("restore", str(tmp_path / "b"), "--data-dir", str(tmp_path / "data"))
    assert code == 1 and "--replace" in err and "already holds a citebot store" in err
    assert sorted((p.relative_to(tmp_path / "data"), p.read_bytes())
                  for p in (tmp_path / "data").rglob("*") if p.is_file()) == before
    running = Core.open(settings_for(tmp_path / "data"), embedder=HashEmbedder())
    code, out, err = run("restore", str(tmp_path / "b"), "--data-dir", str(tmp_path / "data"),
                         "--replace")
    assert code == 1 and "citebot is using" in err and "stop it" in err, err
    running.close()
    code, out, err = run("restore", str(tmp_path / "b"), "--data-dir", str(tmp_path / "data"),
                         "--replace")
    assert code == 0, err
    aside = next(tmp_path.glob("data.replaced-*"))
    assert f"kept in {aside}" in out
    _same(tmp_path / "old", tmp_path / "data")
    with Core.open(settings_for(aside), embedder=HashEmbedder()) as kept:
        assert kept.stats("news").articles == 3


def test_backup_refuses_an_existing_destination(tmp_path: Path, run: Run) -> None:
    _store(tmp_path / "data", 2).close()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("mine")
    code, _, err = run("backup", str(tmp_path / "b"), "--data-dir", str(tmp_path / "data"))
    assert code == 1 and "already exists" in err
    assert (tmp_path / "b" / "keep.txt").read_text() == "mine"


# The backup, with a pause before the vector files are copied: on a fast disk the whole
# backup can take less time than the test needs to see it start, so no kill would land in it.
_SLOW_BACKUP = """
import sys, time
from index.store import backup
copy = backup._copy_vectors
backup._copy_vectors = lambda *args: (time.sleep(0.15), copy(*args))[1]
from bot.cli.app import main
sys.exit(main(["backup", *sys.argv[1:]]))
"""


def test_kill_9_during_a_backup_leaves_the_store_intact(tmp_path: Path) -> None:
    data = tmp_path / "data"
    core = _store(data, 300)
    expected = state(core, "news")
    core.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CITEBOT_DATA_DIR": str(data)}
    rng = random.Random(SEED)
    outcomes = {"before": 0, "during": 0, "finished": 0}
    dest = tmp_path / "b"
    for _ in range(8):
        child = subprocess.Popen([sys.executable, "-c", _SLOW_BACKUP, str(dest)],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60  # until the backup starts writing (bounded)
        while (not list(tmp_path.glob(".b.partial-*")) and child.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.3))  # then a random moment of it, or just after
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        if dest.exists():  # a backup that looks whole is whole
            check_backup(dest)
            shutil.rmtree(dest)
            outcomes["finished"] += 1
        else:
            outcomes["during" if list(tmp_path.glob(".b.partial-*")) else "before"] += 1
    assert outcomes["during"], outcomes
    with Core.open(settings_for(data), embedder=HashEmbedder()) as after:
        assert problems(after) == []
        assert state(after, "news") == expected
    again = subprocess.run([sys.executable, "-m", "bot.cli", "backup", str(dest)],
                           env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert not list(tmp_path.glob(".b.partial-*")), "a killed backup's leftovers are removed"
    check_backup(dest)
    print(f"kill -9 during backup: {outcomes}")


def test_a_store_not_yet_upgraded_is_backed_up_and_restored(tmp_path: Path, run: Run) -> None:
    old = tmp_path / "old"
    shutil.copytree(ROOT / "tests" / "fixtures" / "first_schema" / "data", old)
    code, _, err = run("backup", str(tmp_path / "b"), "--data-dir", str(old))
    assert code == 0, err
    code, _, err = run("restore", str(tmp_path / "b"), "--data-dir", str(tmp_path / "new"))
    assert code == 0, err
    with Core.open(settings_for(tmp_path / "new"), embedder=HashEmbedder()) as core:
        assert core.stats("default").articles == 2
        assert core.storage.lexical_search("default", "federal resilience grant", 3)
