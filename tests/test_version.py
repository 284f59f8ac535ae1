"""`citebot --version`: the installed package's version, without opening a store."""

from __future__ import annotations

import importlib.metadata

import pytest

from bot.cli import main


def test_version_is_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        main(["--version"])
    assert ended.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == f"citebot {importlib.metadata.version('citebot')}"
