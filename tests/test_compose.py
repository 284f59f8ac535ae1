"""docker-compose.yml, checked by its structure (there is no Docker engine to run it): a
PostgreSQL with pgvector, a read replica behind a profile, bot shards that agree on the count
and split the ids, the command-line tool as a one-off service, every variable a real setting,
and the same steps as the README."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # resolves the << merges
    return loaded


def shards() -> dict[str, dict[str, str]]:
    """Each bot shard service's environment."""
    services = compose()["services"]
    return {name: service["environment"] for name, service in services.items()
            if name.startswith("bot-shard-")}


def compose_steps() -> list[str]:
    """The commands in the file's header comment."""
    steps = []
    for line in COMPOSE.read_text().splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("#   "):
            steps.append(line[4:].strip())
    return steps


def readme_compose_steps() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"docker-compose\.yml.*?```bash\n(.*?)```", readme, re.S)
    assert block, "the README shows the Docker Compose steps"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def test_postgres_has_pgvector_and_a_health_check() -> None:
    postgres = compose()["services"]["postgres"]
    assert postgres["image"].startswith("pgvector/pgvector:pg")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert postgres["environment"]["POSTGRES_DB"] == "citebot"
    assert "wal_level=replica" in postgres["command"]
    for volume in postgres["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).is_file(), source


def test_the_replica_is_optional_and_copies_the_primary() -> None:
    replica = compose()["services"]["replica"]
    assert replica["profiles"] == ["replica"]
    assert replica["image"] == compose()["services"]["postgres"]["image"]
    script = " ".join(replica["entrypoint"])
    assert "pg_basebackup --host=postgres --username=replicator" in script
    assert "--write-recovery-conf" in script
    init = (ROOT / "deploy/postgres/10-replication.sh").read_text()
    assert "CREATE ROLE replicator WITH REPLICATION" in init and "host replication" in init


def test_the_shards_agree_on_the_count_and_split_the_ids() -> None:
    services = shards()
    assert len(services) >= 2
    counts = {env["CITEBOT_SHARD_COUNT"] for env in services.values()}
    assert counts == {str(len(services))}, "every shard service gives the same count"
    ids = sorted(int(env["CITEBOT_SHARD_IDS"]) for env in services.values())
    assert ids == list(range(len(services))), "each shard is served by exactly one service"
    for name, env in services.items():
        service = compose()["services"][name]
        assert service["command"] == ["run"] and service["restart"] == "unless-stopped"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "@postgres:5432/" in env["CITEBOT_DATABASE_URL"]
        settings = Settings(_env_file=None, shard_count=env["CITEBOT_SHARD_COUNT"],  # type: ignore[call-arg]
                            shard_ids=env["CITEBOT_SHARD_IDS"])
        assert settings.served_shards == (int(env["CITEBOT_SHARD_IDS"]),)


def test_the_cli_is_a_one_off_service_of_the_same_image() -> None:
    services = compose()["services"]
    cli = services["cli"]
    assert cli["profiles"] == ["cli"] and "restart" not in cli
    assert cli["build"] == "." and (ROOT / "Dockerfile").is_file()
    assert {s["image"] for n, s in services.items() if n == "cli" or n in shards()} == {"citebot"}
    assert cli["environment"]["CITEBOT_DATABASE_URL"] == services["bot-shard-0"]["environment"][
        "CITEBOT_DATABASE_URL"]


def test_docker_asks_each_bot_its_health_and_not_the_cli() -> None:
    services = compose()["services"]
    image_check = re.search(r'^HEALTHCHECK .*?CMD (\[.*?\])$',
                            (ROOT / "Dockerfile").read_text().replace("\\\n", ""), re.M)
    assert image_check, "the image has a HEALTHCHECK"
    for name, env in shards().items():
        check = services[name]["healthcheck"]
        assert check["test"] == ["CMD", *yaml.safe_load(image_check.group(1))], name
        assert check["retries"] >= 2 and "start_period" in check
        settings = Settings(_env_file=None,  # type: ignore[call-arg]
                            metrics_address=env["CITEBOT_METRICS_ADDRESS"])
        assert settings.metrics_endpoint == ("0.0.0.0", 9108), "scrapable on the network"
    assert services["cli"]["healthcheck"] == {"disable": True}


def test_every_citebot_variable_is_a_real_setting() -> None:
    known = {f"CITEBOT_{name.upper()}" for name in Settings.model_fields}
    used = {var for service in compose()["services"].values()
            for var in service.get("environment", {}) if var.startswith("CITEBOT_")}
    used |= set(re.findall(r"\b(CITEBOT_[A-Z_]+)=", COMPOSE.read_text()))
    assert "CITEBOT_SHARD_COUNT" in used and "CITEBOT_DATABASE_URL" in used
    assert used - known == set(), f"not settings: {sorted(used - known)}"


def test_the_steps_are_the_readmes() -> None:
    steps = compose_steps()
    assert steps == readme_compose_steps()
    readme = (ROOT / "README.md").read_text()
    first = re.search(r"bash scripts/setup && \.venv/bin/citebot (add .*?) && "
                      r"\.venv/bin/citebot (ask .*?)\n", readme)
    assert first, "the README's first command"
    for command in first.groups():  # the README's own example, through the one-off service
        assert f"docker compose run --rm cli {command}" in steps
    for step in steps:
        words = shlex.split(step)
        if words[:2] == ["docker", "compose"]:
            assert set(words[2:]) & {"build", "run", "up", "--profile"}, step
