"""Everyday mistakes on the command line, each answered with one sentence (docs/RELIABILITY.md,
"Everyday mistakes")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.settings import Settings
from tests.conftest import Cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "articles"
# a value each kind of setting refuses (a name, a path or a secret takes any text)
WRONG = ("many", "-5", "[1, 2")


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(("networks", "ports"), [
    ("127.0.0.1/32", "8765"),
    ("127.0.0.1/32, 10.0.0.0/8", "80,443, 8765"),
    ('["127.0.0.1/32", "10.0.0.0/8"]', "[80, 443, 8765]"),
])
def test_list_settings_take_the_plain_forms(cli: Cli, monkeypatch: pytest.MonkeyPatch,
                                            networks: str, ports: str) -> None:
    monkeypatch.setenv("CITEBOT_FETCH_ALLOW_NETWORKS", networks)
    monkeypatch.setenv("CITEBOT_FETCH_ALLOW_PORTS", ports)
    monkeypatch.setenv("CITEBOT_SHARD_COUNT", "4")
    monkeypatch.setenv("CITEBOT_SHARD_IDS", "0,1")
    code, _, err = cli("stats")
    assert code == 0 and not err
    settings = Settings()
    assert settings.fetch_allow_networks[0] == "127.0.0.1/32"
    assert 8765 in settings.fetch_allow_ports


def test_every_refused_setting_is_one_line_naming_it_with_an_example(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    refused = []
    for name in Settings.model_fields:
        variable = f"CITEBOT_{name.upper()}"
        for value in WRONG:
            monkeypatch.setenv(variable, value)
            if cli("stats")[0] == 0:
                continue
            for command in ("stats", "run"):  # `run` reads its settings as every command does
                code, out, err = cli(command)
                line = one_line(err)
                assert code == 2 and not out, (variable, value, line)
                assert line.startswith(f"citebot: {variable}: ") and f"e.g. {variable}=" in line
            refused.append(variable)
            monkeypatch.delenv(variable)
    assert len(set(refused)) >= 40  # every setting that can be wrong in a value was tried


def test_an_example_of_every_setting_is_accepted() -> None:
    for name in Settings.model_fields:
        example = Settings.example(name)
        assert example, name
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(f"CITEBOT_{name.upper()}", example)
            if name == "shard_ids":
                patch.setenv("CITEBOT_SHARD_COUNT", "4")
            Settings()


def test_a_folder_adds_its_article_files_and_the_other_sources_go_on(
        cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    (folder / "older").mkdir(parents=True)
    for path in EXAMPLES.iterdir():
        shutil.copy(path, folder / path.name)
    shutil.copy(next(EXAMPLES.iterdir()), folder / "older" / "not-looked-at.txt")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "empty").mkdir()
    extra = tmp_path / "snow.txt"
    extra.write_text("Snow day\n\nSchools closed for snow on Tuesday, the district said.\n")
    code, out, err = cli("add", str(folder), str(tmp_path / "empty"), "missing.txt", str(extra))
    assert code == 1
    assert out.count("added:") == 4  # the folder's three articles, then the file after it
    assert "Snow day" in out.splitlines()[-1]
    problems = err.strip().splitlines()
    assert len(problems) == 3, err  # what was skipped in the folder, the empty one, the missing
    assert "2 entries skipped" in problems[0] and "subfolders" in problems[0]
    assert "empty" in problems[1] and "no article files" in problems[1]
    assert "missing.txt" in problems[2]
    assert "Traceback" not in err


def test_a_folder_given_as_jsonl_is_one_line(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("add", "--jsonl", str(tmp_path))
    assert code == 1 and "is a folder" in one_line(err)
