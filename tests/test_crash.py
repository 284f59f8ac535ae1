"""Crash consistency: ``kill -9`` at random moments during add, update, remove and rebuild.

A worker (``tests/crash_worker.py``) changes a data directory at random and is SIGKILLed after
a random delay; the test then checks what it left, first on disk (a committed vector file must
load and match its generation, so the previous index keeps serving until a new one is
complete), then after restarting (SQLite's integrity check passes; every article is reachable
by dense and lexical search; the vector index holds exactly SQLite's live chunks; no FTS row
without its paragraph; no staged rows of a killed rebuild).

The seed is printed at the end (``CITEBOT_TEST_SEED`` repeats it; kill timing still varies);
``CITEBOT_CRASH_TRIALS=1000`` runs a longer hunt.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.core import Core
from tests.fakes import HashEmbedder
from tests.storage_checks import SEED, disk_problems, figures, problems, settings_for

__all__ = ["figures"]

ROOT = Path(__file__).resolve().parents[1]
TRIALS = int(os.environ.get("CITEBOT_CRASH_TRIALS", "50"))
PER_DIRECTORY = 10  # trials on one data directory before starting afresh
MAX_DELAY_S = 0.35


class Zygote:
    """The warm worker process that forks one child per trial."""

    def __init__(self, stderr: Path) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "PYTHONPATH": str(ROOT)}
        self.stderr_path = stderr
        self._stderr = open(stderr, "wb")  # noqa: SIM115  (lives as long as the worker)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.crash_worker"], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)
        assert self._read() == "ready"

    def _read(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line:
            raise AssertionError("crash worker died: " + self.stderr_path.read_text()[-3000:])
        return line

    def ask(self, line: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read().split()[1]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self._stderr.close()


@pytest.fixture(scope="module")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    worker = Zygote(tmp_path_factory.mktemp("crash") / "worker-stderr.txt")
    yield worker
    worker.close()


def interrupted(trace: Path) -> str:
    """What the last kill interrupted, from the worker's trace."""
    lines = trace.read_text().splitlines() if trace.exists() else []
    if not lines:
        return "start-up"
    last = lines[-1].split()[0]
    return {"done": "between operations", "open": "start-up"}.get(last, last)


def test_kill_9_at_random_moments_leaves_a_consistent_store(
    zygote: Zygote, tmp_path: Path, figures: list[str]
) -> None:
    rng = random.Random(SEED)
    killed_during: Counter[str] = Counter()
    consistent = 0
    failures: list[str] = []
    started = time.monotonic()

    def covered() -> bool:  # kills landed in every kind of operation often enough
        rebuilds = sum(v for k, v in killed_during.items() if k.startswith("rebuild"))
        return rebuilds >= 3 and sum(killed_during[op] for op in ("add", "update", "remove")) >= 10

    trial = 0
    # On a loaded machine more kills land in start-up: go on (up to 3x) until covered.
    while trial < TRIALS or (not covered() and trial < 3 * TRIALS):
        data_dir = tmp_path / f"data-{trial // PER_DIRECTORY}"
        pid = zygote.ask(f"run {data_dir} {rng.getrandbits(32)}")
        time.sleep(rng.uniform(0, MAX_DELAY_S))
        os.kill(int(pid), signal.SIGKILL)
        status = int(zygote.ask(f"reap {pid}"))
        if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
            raise AssertionError(f"trial {trial}: the worker was not killed but ended with "
                                 f"status {status}: " + zygote.stderr_path.read_text()[-3000:])
        killed_during[interrupted(data_dir / "trace.log")] += 1
        core = Core.open(settings_for(data_dir), embedder=HashEmbedder())  # the restart
        found = disk_problems(core.storage) + problems(core)  # type: ignore[arg-type]
        core.close()
        if found:
            failures.append(f"trial {trial} (killed during {interrupted(data_dir / 'trace.log')}"
                            f"): {found}")
        else:
            consistent += 1
        trial += 1
    where = ", ".join(f"{k} {v}" for k, v in sorted(killed_during.items()))
    figures.append(f"crash: {consistent}/{trial} consistent after kill -9 (killed during: "
                   f"{where}; {time.monotonic() - started:.1f}s)")
    assert not failures, "\n".join(failures)
    assert covered(), killed_during  # the kills did land in rebuilds, adds, updates, removes
