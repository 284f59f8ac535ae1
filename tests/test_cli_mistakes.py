"""Everyday mistakes on the command line, each answered with one sentence (docs/RELIABILITY.md,
"Everyday mistakes")."""

from __future__ import annotations

import io
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.discord.actions import collection_for
from bot.discord.explain import explain
from config.settings import Settings
from index.errors import BlockedURLError, CitebotError
from index.names import check_collection
from retrieval.core import Core
from tests.conftest import Cli
from tests.fakes import HashEmbedder

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
    code, _, err = cli("list")
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


@pytest.mark.parametrize(("value", "reason"), [
    ("0", "greater than or equal to 1"), ("5000", "less than or equal to 1000"),
    ("many", "valid integer")])
def test_the_vector_search_setting_is_range_checked(cli: Cli, monkeypatch: pytest.MonkeyPatch,
                                                     value: str, reason: str) -> None:
    """PostgreSQL's recall/time trade-off: a value pgvector would refuse, or one that scans
    no list, is one line naming the setting, its range and its default."""
    monkeypatch.setenv("CITEBOT_DATABASE_PROBES", value)
    code, out, err = cli("stats")
    line = one_line(err)
    assert code == 2 and not out
    assert line.startswith("citebot: CITEBOT_DATABASE_PROBES: ") and reason in line
    assert "e.g. CITEBOT_DATABASE_PROBES=40" in line
    monkeypatch.setenv("CITEBOT_DATABASE_PROBES", "40")
    assert Settings().database_probes == 40


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


def citebot(tmp_path: Path, *args: str, reader_gone: bool = False,
            stdin: int | None = None) -> tuple[int, str, str]:
    """``python -m bot.cli ARGS`` as its own process on the fake embedder: (exit code, stdout,
    stderr); with ``reader_gone`` the pipe of its standard output is closed before it writes."""
    script = ("import sys; from bot.cli import main; from tests.fakes import HashEmbedder; "
              f"sys.exit(main({list(args)!r}, embedder=HashEmbedder()))")
    env = {"CITEBOT_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT),
           "PATH": "/usr/bin:/bin", "CITEBOT_MODEL_CACHE_DIR": str(tmp_path / "models")}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=stdin, env=env, cwd=tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    if reader_gone:
        proc.stdout.close()
        out = ""
    else:
        out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), out, err


def citebot_measured(tmp_path: Path, *args: str,
                     stdin: int) -> tuple[int, str, str, int]:
    """``citebot(...)`` under a 2 GB address-space cap, with its peak resident memory (KB)."""
    script = ("import sys; from bot.cli import main; from tests.fakes import HashEmbedder; "
              f"sys.exit(main({list(args)!r}, embedder=HashEmbedder()))")
    env = {"CITEBOT_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT),
           "PATH": "/usr/bin:/bin", "CITEBOT_MODEL_CACHE_DIR": str(tmp_path / "models")}

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with open(out, "wb") as out_file, open(err, "wb") as err_file:
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=out_file,
                                stderr=err_file, stdin=stdin, env=env, cwd=tmp_path,
                                preexec_fn=cap)
        _, status, usage = os.wait4(proc.pid, 0)  # its own peak, not another child's
        proc.returncode = code = os.waitstatus_to_exitcode(status)
    return code, out.read_text(), err.read_text(), usage.ru_maxrss


def add_bridge(settings: Settings, collection: str = "default") -> None:
    with Core.open(settings, embedder=HashEmbedder()) as core:
        core.add_text(collection, title="Bridge opens", text=BRIDGE)


BRIDGE = ("The Marlow river bridge opened to traffic on Monday.\n\n"
          '"This bridge connects two halves of a city," Mayor Dana Reyes said.\n')


@pytest.mark.parametrize("command", [("stats",), ("list",), ("feeds", "list"),
                                     ("ask", "What did Reyes say about the bridge?")])
def test_a_reader_that_goes_away_ends_the_command_quietly(
        tmp_path: Path, settings: Settings, command: tuple[str, ...]) -> None:
    add_bridge(settings)
    code, _, err = citebot(tmp_path, *command, reader_gone=True)
    assert err == "" and code == 141  # as if SIGPIPE had ended it, but without a traceback


def test_verbose_goes_after_the_command_too(cli: Cli) -> None:
    for args in (("stats", "-v"), ("list", "-vv"), ("feeds", "list", "-v"),
                 ("ask", "-v", "Who?"), ("-v", "stats", "-v"), ("db", "status", "-v")):
        code, _, err = cli(*args)
        assert "unrecognized arguments" not in err and "usage:" not in err, args
    code, _, err = cli("run", "-v")
    assert code == 2 and "CITEBOT_DISCORD_TOKEN is not set" in err


def test_faiss_loader_lines_are_kept_out_at_one_v(tmp_path: Path) -> None:
    _, _, err = citebot(tmp_path, "stats", "-v")
    assert "faiss" not in err
    _, _, err = citebot(tmp_path, "stats", "-vv")
    assert "faiss.loader" in err  # faiss did load in that process: its lines stay at -vv


COMMANDS_WITH_A_COLLECTION = [
    ("add", "a.txt"), ("ask", "Who?"), ("chat",), ("list",), ("stats",), ("rebuild",),
    ("remove", "abc"), ("run",), ("eval", "q.jsonl"), ("feeds", "add", "https://example.com/"),
    ("feeds", "list"), ("feeds", "remove", "1")]


@pytest.mark.parametrize("name", ["\U0001d400" * 64, "a" * 65, "", " ", "news\x1b]0;x",
                                  "a/b"],
                         ids=["64-four-byte-letters", "65-ascii", "empty", "space", "escape",
                              "slash"])
def test_collection_names_are_checked_up_front_by_every_command(cli: Cli, name: str) -> None:
    for command in COMMANDS_WITH_A_COLLECTION:
        code, out, err = cli(*command, "--collection", name)
        line = one_line(err)
        assert code == 2 and not out, (command, line)
        assert line.startswith("citebot: ") and "collection name" in line, line
        if len(name) > 60:
            assert "64 bytes" in line and f"is {len(name.encode())} bytes" in line
    assert not (Path("data") / "collections").exists()  # nothing was made on disk


def test_names_at_the_limits_are_accepted(cli: Cli) -> None:
    for name in ("\U0001d400" * 16, "a" * 64, "Zürich news 2024", "guild-1.b_c"):
        code, _, err = cli("list", "--collection", name)
        assert code == 0 and not err, (name, err)


def test_discord_collections_follow_the_same_rule() -> None:
    assert collection_for(2**64 - 1) == f"guild-{2**64 - 1}"
    check_collection(collection_for(1))
    with pytest.raises(CitebotError, match="64 bytes"):
        check_collection("guild-" + "1" * 64)


def test_an_empty_or_misspelled_collection_is_named_with_the_ones_that_exist(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    examples = sorted(str(p) for p in EXAMPLES.iterdir())
    code, _, err = cli("ask", "What did Ortiz say about the barrier?")
    assert code == 1 and "holds no articles yet" in one_line(err) and "citebot add" in err
    assert cli("add", *examples)[0] == 0
    assert cli("add", "--collection", "other", examples[0])[0] == 0
    for command in (("ask", "What did Ortiz say about the barrier?"),
                    ("ask", "--json", "What did Ortiz say about the barrier?"),
                    ("ask", "--jsonl"), ("chat",)):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"Who is Ortiz?\n")))
        code, out, err = cli(*command, "--collection", "defualt")
        line = one_line(err)
        assert code == 1 and not out, (command, out)
        assert "'defualt' holds no articles" in line and "default, other" in line, line
    code, out, err = cli("list", "--collection", "defualt")
    assert code == 0 and not err and "default, other" in one_line(out)
    code, out, err = cli("stats", "--collection", "defualt")
    assert code == 0 and "articles: 0" in out and "default, other" in one_line(err)
    code, out, _ = cli("ask", "--collection", "other", "What did Ortiz say about the barrier?")
    assert code == 0  # a collection with articles answers as before


def test_both_stores_name_the_collections_that_hold_articles(any_core: Core) -> None:
    assert any_core.collections() == []
    any_core.add_text("news", title="Bridge opens", text=BRIDGE)
    any_core.add_text("b-side", title="Bridge opens", text=BRIDGE)
    removed = any_core.add_text("emptied", title="Bridge opens", text=BRIDGE).article
    any_core.remove("emptied", removed.id)
    assert any_core.collections() == ["b-side", "news"]


def test_chat_reads_bounded_lines(cli: Cli, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("add", str(EXAMPLES))[0] == 0
    text = b"x" * 300_000 + b"\n\xff\xfe odd bytes\nWhat did Ortiz say about the barrier?\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text)))
    code, out, err = cli("chat")
    assert code == 0 and out.startswith("? What did Ortiz say") and "\u201c" in out
    problems = err.strip().splitlines()
    assert len(problems) == 2 and "x" * 20 not in err
    assert problems[0].startswith("citebot: skipped line 1: the line is over the limit of 65,536")
    assert problems[1].startswith("citebot: skipped line 2: the line is not UTF-8")


def test_chat_gives_up_on_endless_input_within_a_bound(tmp_path: Path, settings: Settings) -> None:
    """`citebot chat < /dev/zero` (before: 5.3 GB in 6 s, then MemoryError); its memory is
    capped at 2 GB of address space so that a regression fails instead of eating the machine."""
    add_bridge(settings)
    with open("/dev/zero", "rb") as zero:
        code, out, err, peak_kb = citebot_measured(tmp_path, "chat", stdin=zero.fileno())
    assert code == 1 and not out
    assert "no line break in 64 MiB" in one_line(err)
    assert peak_kb < 1_000_000  # what it held: far under the 64 MiB it read, plus the process


def test_refusals_name_the_setting_that_allows_them(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = cli("add", "http://127.0.0.1:8765/story")
    line = one_line(err)
    assert code == 1 and "port 80 or 443" in line
    assert "CITEBOT_FETCH_ALLOW_PORTS=80,443,8765" in line
    monkeypatch.setenv("CITEBOT_FETCH_ALLOW_PORTS", "80,443,8765")
    code, _, err = cli("add", "http://127.0.0.1:8765/story")
    line = one_line(err)
    assert code == 1 and "points back at the bot's own machine" in line
    assert "CITEBOT_FETCH_ALLOW_NETWORKS=127.0.0.1/32" in line
    monkeypatch.setenv("CITEBOT_FETCH_ALLOW_NETWORKS", "10.0.0.0/8")
    code, _, err = cli("feeds", "add", "http://[::1]:8765/feed.xml")
    assert code == 1 and "CITEBOT_FETCH_ALLOW_NETWORKS=10.0.0.0/8,::1/128" in one_line(err)
    code, _, err = cli("add", "http://192.168.1.20/story", "http://169.254.169.254/latest")
    private, metadata = err.strip().splitlines()
    assert "CITEBOT_FETCH_ALLOW_NETWORKS=10.0.0.0/8,192.168.1.20/32" in private
    assert "metadata" in metadata and "CITEBOT_" not in metadata  # never allowed: no setting


def test_members_on_discord_get_the_short_form(settings: Settings) -> None:
    with Core.open(settings, embedder=HashEmbedder()) as core:
        for url in ("http://127.0.0.1/story", "https://127.0.0.1:8765/story"):
            with pytest.raises(BlockedURLError) as refused:
                core.add_url("guild-1", url)
            said = explain(refused.value)
            assert said is not None and said.startswith("Could not fetch that page.")
            assert "CITEBOT_" not in said and "setting" not in said


def test_a_dot_env_that_is_not_utf8_is_one_line(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"CITEBOT_FEED_INTERVAL_S=\xff\xfe\n")
    code, out, err = cli("stats")
    assert code == 2 and not out and ".env" in one_line(err) and "UTF-8" in err


def test_a_link_holding_bytes_that_are_not_text_is_one_sentence(cli: Cli) -> None:
    """A link typed in a terminal of another encoding reaches citebot with bytes that are not
    UTF-8 (Python's surrogate escapes): one sentence for it, and the next source still added
    (a UnicodeEncodeError traceback before)."""
    story = EXAMPLES / "library-hours.txt"
    for link in ("http://example.com/a\udcffb", "http://example.com/?q=\udce9t\x00"):
        code, out, err = cli("add", link, str(story))
        line = one_line(err)
        assert code == 1 and "not a valid web address" in line, err
        assert "Riverton library" in out, out  # added, then unchanged
