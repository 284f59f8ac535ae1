"""The Dockerfile lints clean and installs the way the README does; the CLI's help is true."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_dockerfile_lints_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint is missing: install the dev extra (scripts/setup)")
    result = subprocess.run([hadolint, "--failure-threshold", "info", "Dockerfile"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_uses_the_readme_setup_and_runs_unprivileged() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/setup" in readme and "RUN bash scripts/setup --prod" in dockerfile
    assert re.search(r"^USER (?!root|0\b)\S+", dockerfile, re.M)
    assert 'VOLUME ["/data"]' in dockerfile and "CITEBOT_DATA_DIR=/data" in dockerfile


def test_readme_commands_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    for script in re.findall(r"bash (scripts/\w+)", readme):
        assert (ROOT / script).exists(), script
    help_text = subprocess.run([sys.executable, "-m", "bot.cli", "--help"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60).stdout
    for command in re.findall(r"citebot (\w+)", readme):
        if command in {"add", "ask", "list", "remove", "rebuild", "stats", "run", "eval"}:
            assert command in help_text
