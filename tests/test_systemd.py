"""deploy/systemd/citebot.service, checked by its structure: restarted on failure, run as its
own user (created by the sysusers file), its data directory in the state directory systemd
gives it, the token from an EnvironmentFile (never in the unit), every path it writes allowed
by the hardening, every variable a real setting, and the README's steps the unit's own; where
systemd-analyze is installed, it verifies the unit and rates its exposure."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "systemd"
UNIT = DEPLOY / "citebot.service"

Unit = dict[str, list[tuple[str, str]]]


def parse(text: str) -> Unit:
    """Sections -> (key, value) lines in order (systemd allows a key more than once)."""
    unit: Unit = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            unit.setdefault(section, [])
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line!r}"
        unit[section].append((key.strip(), value.strip()))
    return unit


def values(unit: Unit, section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def one(unit: Unit, section: str, key: str) -> str:
    found = values(unit, section, key)
    assert len(found) == 1, f"{section}.{key}: {found}"
    return found[0]


def environment(unit: Unit) -> dict[str, str]:
    pairs = [v.split("=", 1) for v in values(unit, "Service", "Environment")]
    return {k: v for k, v in pairs}


@pytest.fixture(scope="module")
def unit() -> Unit:
    return parse(UNIT.read_text())


def test_restarts_on_failure_as_its_own_user(unit: Unit) -> None:
    assert one(unit, "Service", "Restart") == "on-failure"
    assert one(unit, "Service", "RestartSec")
    user = one(unit, "Service", "User")
    assert user not in ("root", "0") and one(unit, "Service", "Group") == user
    sysusers = (DEPLOY / "citebot.sysusers").read_text()
    assert re.search(rf"^u {re.escape(user)} ", sysusers, re.M), "the sysusers file makes it"
    assert one(unit, "Install", "WantedBy") == "multi-user.target"
    assert "network-online.target" in one(unit, "Unit", "After")
    grace = Settings.model_fields["shutdown_grace_s"].default
    assert int(one(unit, "Service", "TimeoutStopSec").rstrip("s")) > grace  # in-flight work ends
    exec_start = one(unit, "Service", "ExecStart")
    assert exec_start.startswith("/") and exec_start.endswith("/bin/citebot run")


def test_the_data_directory_is_the_state_directory_and_all_it_may_write(unit: Unit) -> None:
    state = Path("/var/lib") / one(unit, "Service", "StateDirectory")
    cache = Path("/var/cache") / one(unit, "Service", "CacheDirectory")
    env = environment(unit)
    assert Path(env["CITEBOT_DATA_DIR"]).is_relative_to(state)
    assert Path(env["CITEBOT_MODEL_CACHE_DIR"]).is_relative_to(cache)
    assert Path(one(unit, "Service", "WorkingDirectory")) == state
    assert one(unit, "Service", "ProtectSystem") == "strict"  # so nothing else is writable
    assert not values(unit, "Service", "ReadWritePaths")


def test_the_token_comes_from_an_environment_file(unit: Unit) -> None:
    path = one(unit, "Service", "EnvironmentFile")
    assert path.startswith("/etc/") and not path.startswith("-"), "a missing file must fail"
    assert "TOKEN" not in UNIT.read_text().replace("CITEBOT_DISCORD_TOKEN and", "")
    example = (DEPLOY / "citebot.env.example").read_text()
    assert re.search(r"^CITEBOT_DISCORD_TOKEN=", example, re.M)


def test_every_variable_is_a_real_setting(unit: Unit) -> None:
    known = {f"CITEBOT_{name.upper()}" for name in Settings.model_fields}
    example = (DEPLOY / "citebot.env.example").read_text()
    named = set(environment(unit)) | set(re.findall(r"^#? ?(CITEBOT_\w+)=", example, re.M))
    assert {n for n in named if n.startswith("CITEBOT_")} <= known


def test_hardened(unit: Unit) -> None:
    expected = {"NoNewPrivileges": "yes", "ProtectHome": "yes", "PrivateTmp": "yes",
                "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
                "ProtectControlGroups": "yes", "RestrictSUIDSGID": "yes",
                "CapabilityBoundingSet": "", "UMask": "0077"}
    assert {k: one(unit, "Service", k) for k in expected} == expected


def test_the_readme_gives_the_units_steps() -> None:
    readme = (ROOT / "README.md").read_text()
    steps = [line.strip().lstrip("#").strip() for line in UNIT.read_text().splitlines()
             if line.startswith("#   sudo ")]
    assert steps
    for step in steps:
        command = step.split("  #")[0].strip()
        assert command in readme, command


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_verifies_it_and_rates_it_safe(tmp_path: Path) -> None:
    # verify checks that ExecStart exists: point it at a program every system has
    copy = tmp_path / "citebot.service"
    copy.write_text(re.sub(r"^ExecStart=\S+", "ExecStart=/bin/true", UNIT.read_text(),
                           flags=re.M))
    verified = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True,
                              text=True, timeout=60)
    assert verified.returncode == 0 and "citebot.service" not in verified.stderr, \
        verified.stderr
    rated = subprocess.run(["systemd-analyze", "security", "--offline=true", str(copy)],
                           capture_output=True, text=True, timeout=60)
    level = re.search(r"Overall exposure level for citebot.service: ([\d.]+)", rated.stdout)
    assert level and float(level.group(1)) <= 2.0, rated.stdout[-500:]
