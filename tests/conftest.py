"""Shared fixtures: every test gets its own data directory; the real model loads once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.cli import main
from config.settings import BUNDLED_MODEL, Settings
from index.encode.embed import Embedder, load_embedder
from retrieval.core import Core
from tests.fakes import HashEmbedder
from tests.feedsite import FeedSite
from tests.pg_support import pg_core, pg_settings, pg_url  # noqa: F401  (fixtures)
from tests.postgres import PostgresServer, postgres_server  # noqa: F401  (a fixture)

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export of the bundled model for the whole session."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_cache: Path) -> None:
    """No test reads the developer's .env or data directory."""
    monkeypatch.chdir(tmp_path)
    for var in ("CITEBOT_DATA_DIR", "CITEBOT_MODEL", "CITEBOT_DISCORD_TOKEN", "CITEBOT_ENCODER",
                "CITEBOT_DATABASE_URL", "CITEBOT_DATABASE_READ_URL", "CITEBOT_READER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CITEBOT_MODEL_CACHE_DIR", str(model_cache))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]


BACKENDS = ("embedded", "postgres")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each storage backend in turn, for the storage behaviour both must share."""
    return str(request.param)


def on_backend(settings: Settings, backend: str, request: pytest.FixtureRequest) -> Settings:
    """``settings`` on ``backend``: unchanged (embedded), or on a fresh PostgreSQL database."""
    if backend == "embedded":
        return settings
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return settings.model_copy(update={"database_url": SecretStr(server.new_database())})


@pytest.fixture
def any_settings(backend: str, settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Settings for each backend in turn: the embedded default, or a fresh PostgreSQL database."""
    return on_backend(settings, backend, request)


@pytest.fixture
def any_core(any_settings: Settings) -> Iterator[Core]:
    """A core on the fake embedder, over each backend in turn."""
    core = Core.open(any_settings, embedder=HashEmbedder())
    yield core
    core.close()


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    return load_embedder(BUNDLED_MODEL, batch_size=64)


Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(real_embedder: Embedder, capsys: pytest.CaptureFixture[str]) -> Cli:
    """``citebot ARGS...`` in process on the session's model: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args), embedder=real_embedder)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def hash_core(settings: Settings) -> Iterator[Core]:
    core = Core.open(settings, embedder=HashEmbedder())
    yield core
    core.close()


@pytest.fixture
def real_core(settings: Settings, real_embedder: Embedder) -> Iterator[Core]:
    core = Core.open(settings, embedder=real_embedder)
    yield core
    core.close()


ARTICLE = """Officials open new bridge after years of delay

The Marlow river bridge opened to traffic on Monday, four years later than planned and
$12 million over budget.

"This bridge connects two halves of a city that have been apart for too long," Mayor Dana Reyes said at the ribbon cutting.

Transport minister Arjun Patel said that tolls would be waived for the first six months.

The bridge carries four lanes of traffic and a protected bicycle path, according to the city's transport department.

Related news

Advertisement
"""


@pytest.fixture
def site() -> Iterator[FeedSite]:
    """A feed server on 127.0.0.1 (tests/feedsite.py), closed after the test."""
    served = FeedSite()
    yield served
    served.close()
