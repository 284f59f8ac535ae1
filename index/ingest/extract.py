"""Extract an article's main text and metadata from HTML, with trafilatura.

`extract_html` runs in the calling process. An `Extractor` runs it in worker processes with a
timeout, so a pathological page can neither hang nor crash the caller.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import get_context, parent_process
from multiprocessing.connection import Connection, wait
from typing import Any

from index.errors import ExtractionError, MissingDependencyError

MIN_TEXT_CHARS = 200
MIN_LETTER_RATIO = 0.5  # letters among the non-space characters of real prose

_log = logging.getLogger(__name__)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_START_TIMEOUT_S = 60.0  # a cold worker imports trafilatura before it says it is ready
_MAX_JOBS_PER_WORKER = 200  # recycle workers now and then; lxml is not known for giving back memory
_MAX_WORKERS = max(1, min(4, os.cpu_count() or 1))
_MAX_IDLE_WORKERS = 2


@dataclass(frozen=True)
class Extracted:
    """The main text of an article page and what the page says about itself."""

    title: str | None
    author: str | None
    published: str | None  # ISO date "YYYY-MM-DD" when known
    source: str | None  # site name
    url: str | None  # canonical URL if the page declares one, else the given URL
    text: str  # main text, paragraphs separated by "\n\n", as trafilatura extracted them


Target = Callable[[str, str | None], Extracted]


def extract_html(html: str, url: str | None = None) -> Extracted:
    """Extract the article in `html`; raise ExtractionError if there is no usable article text."""
    import trafilatura  # imported here so that importing this module stays cheap
    from trafilatura.settings import Document

    try:
        document = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            favor_precision=True,
            include_comments=False,
            include_tables=False,
            include_images=False,
            include_links=False,
            include_formatting=False,
        )
    except Exception as exc:  # the parser met something it cannot handle: that page is unusable
        raise ExtractionError("citebot could not read that page as an article.") from exc
    if not isinstance(document, Document):  # None: trafilatura found nothing worth keeping
        raise ExtractionError("citebot found no article text on that page.")
    text = _paragraphs(document)
    _check_prose(text)
    return Extracted(
        title=_clean(document.title),
        author=_clean(document.author),
        published=document.date if document.date and _ISO_DATE.fullmatch(document.date) else None,
        source=_clean(document.sitename),
        url=_clean(document.url) or url,
        text=text,
    )


def _paragraphs(document: Any) -> str:
    """The extracted body, one block per paragraph (heading, list, quote), blank-line separated."""
    from trafilatura.xml import xmltotxt

    blocks = (xmltotxt(element, False).strip() for element in document.body)
    return "\n\n".join(block for block in blocks if block)


def _check_prose(text: str) -> None:
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractionError("That page has too little article text for citebot to quote from.")
    visible = [c for c in text if not c.isspace()]
    if sum(c.isalpha() for c in visible) < MIN_LETTER_RATIO * len(visible):
        raise ExtractionError("The text on that page is mostly symbols or numbers, not an article.")


def _clean(value: str | None) -> str | None:
    return value.strip() or None if value else None


class Extractor:
    """Runs `extract_html` in worker processes, each job killed after its timeout.

    Workers are started on first use, reused, replaced when they time out or die, and stopped
    by `close()` (they also end by themselves when this process does). Waiting for a free
    worker and starting a cold one do not count towards a job's timeout.
    """

    def __init__(self, *, max_workers: int = _MAX_WORKERS) -> None:
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_workers)
        self._idle: list[_Worker] = []

    def extract(self, html: str, url: str | None = None, *, timeout_s: float = 30.0,
                _target: Target | None = None) -> Extracted:
        """Like `extract_html`, in a worker killed after `timeout_s` seconds. `_target`
        replaces `extract_html` in tests; it must be a module-level function."""
        with self._slots:
            worker = self._checkout()
            try:
                status, value = worker.run(_target or extract_html, html, url, timeout_s)
            except TimeoutError:
                worker.kill()
                raise ExtractionError(f"Extracting that page took longer than {timeout_s:g} "
                                      "seconds, so citebot gave up.") from None
            except (EOFError, OSError):
                worker.kill()
                raise ExtractionError("The article extractor crashed on that page.") from None
            except BaseException:  # interrupted mid-job: the worker's state is unknown
                worker.kill()
                raise
            self._checkin(worker)
        return _outcome(status, value)

    def close(self) -> None:
        """Stop the idle workers; a later extraction starts a fresh one."""
        with self._lock:
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.kill()

    def _checkout(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
        return _Worker()

    def _checkin(self, worker: _Worker) -> None:
        with self._lock:
            if worker.jobs < _MAX_JOBS_PER_WORKER and len(self._idle) < _MAX_IDLE_WORKERS:
                self._idle.append(worker)
                return
        worker.kill()


def _outcome(status: str, value: Any) -> Extracted:
    if status == "ok":
        return value  # type: ignore[no-any-return]
    if status == "refused":
        raise ExtractionError(value)
    if status == "missing":
        raise MissingDependencyError(missing_dependency(value))
    _log.warning("article extraction failed in the worker: %s", value)
    raise ExtractionError("The article extractor failed on that page.")


def missing_dependency(name: str) -> str:
    """What to tell a person when a package citebot depends on is not installed."""
    return (f"citebot cannot extract articles: the Python package {name!r} is missing. "
            "Reinstall citebot with its dependencies (pip install -e .) and try again.")


class _Worker:
    """One spawned process that runs extraction jobs sent to it over a pipe."""

    def __init__(self) -> None:
        context = get_context("spawn")  # never fork a process that may hold threads and locks
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        child.close()  # so that the worker's death reads as end-of-file here
        self.jobs = 0
        try:
            hello = self._conn.recv() if self._conn.poll(_START_TIMEOUT_S) else None
        except (EOFError, OSError):
            hello = None
        if hello != "ready":
            self.kill()
            if isinstance(hello, tuple) and hello[0] == "missing":
                raise MissingDependencyError(missing_dependency(hello[1]))
            raise ExtractionError("The article extractor could not start; try again later.")

    def run(self, target: Target, html: str, url: str | None, timeout_s: float) -> tuple[str, Any]:
        """Send one job and wait for its (status, value); TimeoutError if it takes too long."""
        self.jobs += 1
        self._conn.send((target, html, url))
        if not self._conn.poll(timeout_s):
            raise TimeoutError
        status, value = self._conn.recv()  # EOFError if the worker died
        return status, value

    def alive(self) -> bool:
        return self._process.is_alive()

    def kill(self) -> None:
        self._process.kill()
        self._process.join(timeout=5)
        self._conn.close()


def _serve(conn: Connection) -> None:
    """Worker process: run (target, html, url) jobs until the parent hangs up or dies."""
    _die_with_parent()
    try:  # warm up before saying ready, so start-up is not job time
        import lxml_html_clean  # noqa: F401  # trafilatura's justext needs it
        import trafilatura  # noqa: F401
    except ImportError as exc:
        conn.send(("missing", exc.name or str(exc)))
        return
    conn.send("ready")
    while True:
        try:
            target, html, url = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", target(html, url)))
        except ExtractionError as exc:
            conn.send(("refused", str(exc)))
        except ImportError as exc:
            conn.send(("missing", exc.name or str(exc)))
        except Exception as exc:
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))


def _die_with_parent() -> None:
    """End this worker as soon as the process that started it is gone, even mid-job.

    A parent killed with SIGKILL runs no clean-up, and the job's timeout lives in the parent:
    without this a worker stuck on a pathological page would spin on alone. A thread waits on
    the parent's sentinel (readable when it exits) and ends the process.
    """
    parent = parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
