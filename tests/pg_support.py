"""What the PostgreSQL tests share: a fresh database on the test server (tests/postgres.py),
settings and a core on it, articles to fill it with, and a worker process (tests/pg_worker.py)
started and waiting for its go."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from config.settings import Settings
from retrieval.core import Core
from tests.fakes import HashEmbedder
from tests.postgres import PostgresServer
from tests.storage_checks import make_article

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    return postgres_server.new_database()


@pytest.fixture
def pg_settings(settings: Settings, pg_url: str) -> Settings:
    return settings.model_copy(update={"database_url": SecretStr(pg_url)})


@pytest.fixture
def pg_core(pg_settings: Settings) -> Iterator[Core]:
    core = Core.open(pg_settings, embedder=HashEmbedder())
    yield core
    core.close()


def fill(core: Core, collection: str, count: int, seed: int, paragraphs: int | None = None
         ) -> None:
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        title, text = make_article(rng, paragraphs)
        lines.append(json.dumps({"id": f"{collection}-{i}", "title": title, "text": text}))
    for item in core.indexer.add_jsonl(collection, lines):
        assert item.result is not None, item.error


def spawn(url: str, go: Path, *args: str) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.pg_worker", url, str(go), *args], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert worker.stdout is not None
    assert json.loads(worker.stdout.readline()) == {"ready": True}, worker.stderr
    return worker
