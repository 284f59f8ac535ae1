"""Hostile and careless input through the real command-line tool, with figures.

    .venv/bin/python benchmarks/hostile.py [--kills 20]

Each case runs `citebot` as a separate process on a fresh data directory with the bundled
model, and prints its exit code, wall time and peak memory (the process and the workers it
waited for): the long-title and runaway-stdin cases (bounded memory), the one-word and
many-paragraph cases (bounded time), repeated kills of `citebot add` during extraction
(orphaned workers left behind, must be 0) and a hostile batch (lines without a result or an
error of their own, must be 0). Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITEBOT = [sys.executable, "-m", "bot.cli"]
STORY = "The council met on Monday and approved the harbour plan, the mayor said."


MODELS = Path(tempfile.mkdtemp(prefix="citebot-models-"))  # one ONNX export for every case


def run(args: list[str], data: Path, *, stdin: object = subprocess.DEVNULL,
        timeout: float = 900) -> tuple[int, float, float, str, str]:
    """(exit code, seconds, peak MB, stdout, stderr) of one citebot command."""
    env = {**os.environ, "CITEBOT_DATA_DIR": str(data), "CITEBOT_MODEL_CACHE_DIR": str(MODELS)}
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([*CITEBOT, *args], cwd=ROOT, env=env, stdin=stdin,  # type: ignore[call-overload]
                                stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return (proc.returncode, seconds, usage.ru_maxrss / 1024, out.read().decode(),
                err.read().decode())


def show(name: str, result: tuple[int, float, float, str, str]) -> None:
    code, seconds, peak, _, err = result
    note = err.strip().splitlines()[-1][:110] if err.strip() else ""
    print(f"{name:<44} exit {code:>3}  {seconds:6.1f} s  peak {peak:7.0f} MB  "
          f"stderr {len(err):>5} B  {note}")


def sizes(work: Path) -> None:
    rng = random.Random(3)
    words = [*STORY.lower().rstrip(".").replace(",", "").split(), "harbour", "ferry",
             "budget", "vote", "union", "school", "bridge", "river", "tax"]
    paragraphs = [" ".join(rng.choice(words) for _ in range(12)).capitalize() + "."
                  for _ in range(2_000)]  # distinct: near duplicates would be dropped
    cases = {
        "baseline: one short article": f"A title\n\n{STORY}",
        "47 KB title + 2,000 paragraphs (refused)": "x" * 47_000 + "\n\n" + "\n\n".join(
            paragraphs),
        "47 KB title + 900 paragraphs (added)": "x" * 47_000 + "\n\n" + "\n\n".join(
            paragraphs[:900]),
        "500 KB of one word (refused)": "Title\n\n" + "word " * 100_000,
        "100 KB of one word (at the limit, added)": "Title\n\n" + "word " * 19_990,
        "40,000 one-line paragraphs (refused)": "Title\n\n" + "\n".join(
            f"Line {i} is here." for i in range(40_000)),
        "1,000 one-line paragraphs (at the limit)": "Title\n\n" + "\n".join(
            f"Line {i} is here." for i in range(999)),
    }
    for n, (name, text) in enumerate(cases.items()):
        path = work / f"case{n}.txt"
        path.write_text(text)
        show(name, run(["add", str(path)], work / f"data-size{n}"))
    big_title = work / "title.jsonl"
    big_title.write_text(json.dumps({"title": "t" * 6_300_000, "text": STORY}) + "\n")
    show("--jsonl, a 6.3 MB title (line refused)",
         run(["add", "--jsonl", str(big_title)], work / "data-title"))
    for name, args in (("add - < /dev/zero", ["add", "-"]),
                       ("add --jsonl - < /dev/zero", ["add", "--jsonl", "-"]),
                       ("ask --jsonl < /dev/zero", ["ask", "--jsonl"])):
        with open("/dev/zero", "rb") as zero:
            show(name, run(args, work / "data-zero", stdin=zero))
    blob = work / "blob.txt"
    blob.write_bytes(b"A" * 200_000_000)
    with open(blob, "rb") as fh:
        show("add - < 200 MB (error size bounded)", run(["add", "-"], work / "data-blob",
                                                        stdin=fh))
    blob.unlink()


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found |= {int(x) for x in (task / "children").read_text().split()}
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def kills(work: Path, count: int) -> None:
    page = work / "slow.html"  # 2.5 MB, ~13 s of extraction: kills land mid-job
    body = "".join(f"<p>{STORY} Item {i} was <b>approved</b> by {i} votes.</p>"
                   for i in range(20_000))
    page.write_text(f"<html><head><title>Slow</title></head><body><article>{body}</article>"
                    "</body></html>")
    env = {**os.environ, "CITEBOT_DATA_DIR": str(work / "data-kill"),
           "CITEBOT_MODEL_CACHE_DIR": str(MODELS)}
    orphans = landed = 0
    gone_after: list[float] = []
    rng = random.Random(7)
    for trial in range(count):
        proc = subprocess.Popen([*CITEBOT, "add", str(page)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers: set[int] = set()
        deadline = time.monotonic() + 120
        while not workers and proc.poll() is None and time.monotonic() < deadline:
            workers = children(proc.pid)
            time.sleep(0.02)
        time.sleep(rng.uniform(0.5, 3.0))  # let the worker start, then the job
        landed += bool(workers) and proc.poll() is None
        proc.send_signal(signal.SIGKILL if trial % 2 else signal.SIGTERM)
        proc.wait()
        killed = time.monotonic()
        while any(alive(w) for w in workers) and time.monotonic() - killed < 30:
            time.sleep(0.05)
        gone_after.append(time.monotonic() - killed)
        orphans += sum(alive(w) for w in workers)
        for w in workers:
            if alive(w):
                os.kill(w, signal.SIGKILL)
    print(f"kills of `citebot add` during extraction: {count} (SIGTERM and SIGKILL in turn), "
          f"{landed} with a worker running; workers (and their resource tracker) gone after "
          f"median {statistics.median(gone_after):.2f} s, at most {max(gone_after):.2f} s; "
          f"orphans alive 30 s later: {orphans}")


def batch(work: Path) -> None:
    bad = [b"[" * 5_000, b'{"title": "x", "text": "trunc', b"\xff\xfe bad bytes",
           json.dumps({"title": 5, "text": STORY}).encode(), b"null", b"x" * 11_000_000,
           json.dumps({"title": "t" * 400, "text": STORY}).encode()]
    lines = []
    for i in range(200):
        text = f"{STORY} Item {i} of the batch was approved by {i + 3} votes to two."
        lines.append(json.dumps({"id": f"ok{i}", "title": f"Story {i}", "text": text}).encode())
        lines.append(bad[i % len(bad)])
    path = work / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    _code, seconds, peak, out, err = run(["add", "--jsonl", str(path)], work / "data-batch")
    errors = [e for e in err.splitlines() if e.startswith("citebot: ")]
    summary = out.strip().splitlines()[-1]
    added = int(summary.split()[0])
    lost = len(lines) - added - len(errors)
    print(f"hostile batch: {len(lines)} lines ({len(lines) // 2} bad), {summary}; "
          f"{len(errors)} error lines; lines lost: {lost}; {seconds:.1f} s, peak {peak:.0f} MB")
    questions = []
    for i in range(100):
        questions.append(json.dumps({"id": i, "question": f"What was item {i} approved by?"}))
        questions.append(["{\"id\": 1, \"q", "{\"question\": null}", "{\"as_of\": \"soon\"}",
                          "[" * 3000, "{\"question\": 3}"][i % 5])
    path = work / "questions.jsonl"
    path.write_text("\n".join(questions) + "\n")
    with open(path, "rb") as fh:
        _code, seconds, peak, out, err = run(["ask", "--jsonl"], work / "data-batch", stdin=fh)
    answers = [json.loads(line) for line in out.splitlines()]
    refused = sum("error" in a for a in answers)
    print(f"hostile questions: {len(questions)} lines, {len(answers)} JSON lines out "
          f"({refused} errors); lines lost: {len(questions) - len(answers)}; {seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--only", choices=["sizes", "batch", "kills"], help="one part only")
    args = parser.parse_args()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            if args.only in (None, "sizes"):
                sizes(work)
            if args.only in (None, "batch"):
                batch(work)
            if args.only in (None, "kills"):
                kills(work, args.kills)
    finally:
        shutil.rmtree(MODELS, ignore_errors=True)


if __name__ == "__main__":
    main()
