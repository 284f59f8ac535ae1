"""What `citebot run` counts, in Prometheus' text format.

The one module that imports ``prometheus_client``. Each bot has its own registry (passed in, or
a fresh one), so that several bots in one process (the tests) never share a counter. Counters
are created with every label value they can take, so that a rate is 0 rather than missing
before the first event. The names are the dashboard's (deploy/grafana-dashboard.json):

    citebot_questions_total{via}            questions answered (slash command or message)
    citebot_questions_not_found_total{via}  ... of which the articles did not answer
    citebot_answer_seconds{via}             from the question to the answer sent (histogram)
    citebot_votes_total{vote}               up / down under an answer
    citebot_articles_added_total{via,status}  command, watch or feed; added/updated/unchanged
    citebot_feed_polls_total{status}        polls by outcome ("new", "quiet", "failed", ...)
    citebot_feed_poll_failures_total        polls that failed (a feed's error or the poll's)
    citebot_gateway_connected               1 while every gateway connection is up
    citebot_gateway_reconnects_total        connections resumed or identified again
    citebot_queue_depth                     core calls waiting to start
    citebot_core_calls_running              core calls running
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

VIAS = ("slash", "message")
ADD_VIAS = ("command", "watch", "feed")
ADD_STATUSES = ("added", "updated", "unchanged")
POLL_STATUSES = ("new", "quiet", "not-modified", "unchanged", "failed", "paused", "skipped")
# An answer takes from a fraction of a second (quotes only) to tens (a language model writing)
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The bot's counters and gauges, in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.questions = Counter("citebot_questions", "Questions answered, by how they came.",
                                 ["via"], registry=r)
        self.not_found = Counter("citebot_questions_not_found",
                                 "Questions the indexed articles did not answer.", ["via"],
                                 registry=r)
        self.latency = Histogram("citebot_answer_seconds",
                                 "Seconds from a question to its answer sent.", ["via"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.votes = Counter("citebot_votes", "Votes under answers.", ["vote"], registry=r)
        self.adds = Counter("citebot_articles_added", "Articles taken in, by way and outcome.",
                            ["via", "status"], registry=r)
        self.polls = Counter("citebot_feed_polls", "Feed polls, by outcome.", ["status"],
                             registry=r)
        self.poll_failures = Counter("citebot_feed_poll_failures", "Feed polls that failed.",
                                     registry=r)
        self.reconnects = Counter("citebot_gateway_reconnects",
                                  "Gateway connections resumed or identified again.",
                                  registry=r)
        self.connected = Gauge("citebot_gateway_connected",
                               "1 while every gateway connection is up.", registry=r)
        self.queue = Gauge("citebot_queue_depth", "Core calls waiting to start.", registry=r)
        self.running = Gauge("citebot_core_calls_running", "Core calls running.", registry=r)
        self._prepare()
        self._connections = 0

    def _prepare(self) -> None:
        for via in VIAS:
            self.questions.labels(via)
            self.not_found.labels(via)
            self.latency.labels(via)
        for vote in ("up", "down"):
            self.votes.labels(vote)
        for via in ADD_VIAS:
            for status in ADD_STATUSES:
                self.adds.labels(via, status)
        for status in POLL_STATUSES:
            self.polls.labels(status)

    def watch(self, *, connected: Callable[[], bool], queued: Callable[[], int],
              running: Callable[[], int]) -> None:
        """Read the gauges from the bot when scraped."""
        self.connected.set_function(lambda: float(connected()))
        self.queue.set_function(lambda: float(queued()))
        self.running.set_function(lambda: float(running()))

    def answered(self, via: str, found: bool, seconds: float) -> None:
        """A question was answered (found or not) in `seconds`."""
        self.questions.labels(via).inc()
        if not found:
            self.not_found.labels(via).inc()
        self.latency.labels(via).observe(seconds)

    def voted(self, vote: int) -> None:
        self.votes.labels("up" if vote > 0 else "down").inc()

    def added(self, via: str, statuses: Iterable[str]) -> None:
        """Articles taken in by `via`, one status each ("added", "updated", "unchanged")."""
        for status in statuses:
            if status in ADD_STATUSES:
                self.adds.labels(via, status).inc()

    def polled(self, status: str | None) -> None:
        """A feed poll ended with `status`, or raised (None)."""
        self.polls.labels(status if status in POLL_STATUSES else "failed").inc()
        if status in (None, "failed"):
            self.poll_failures.inc()

    def gateway_connected(self, shards: int) -> None:
        """A gateway session began (READY); past the first of each shard, a reconnect."""
        self._connections += 1
        if self._connections > shards:
            self.reconnects.inc()

    def gateway_resumed(self) -> None:
        self.reconnects.inc()

    def exposition(self) -> bytes:
        """Every metric, in Prometheus' text format (CONTENT_TYPE)."""
        return generate_latest(self.registry)
