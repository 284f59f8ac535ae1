"""The core, assembled once per process, and the one route every interface takes into it.

The command line, the Discord bot and the evaluation all call these methods; none of them
reaches into storage or the indexer. Errors are the domain errors of ``index.errors``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from threading import Event
from types import TracebackType

from config.settings import Settings
from index.encode.embed import Embedder, load_embedder
from index.encode.reader import Reader
from index.indexer import AddResult, BadLine, BulkItem, Indexer, IndexerOptions
from index.intake.entries import Taken
from index.intake.poller import FeedPoller, PollerOptions, PollReport
from index.models import Article
from index.names import check_collection, check_conversation
from index.store import (
    Conversation,
    EmbeddedStorage,
    Feed,
    ShardFilter,
    Stats,
    Storage,
    Vote,
    Watched,
)
from index.store.values import InsightSwitch
from retrieval.answer import Answerer, AnswerOptions
from retrieval.conversation import Conversations
from retrieval.dialogue import Dialogue
from retrieval.insights import DEFAULT_DAYS, DEFAULT_RETENTION_DAYS, InsightReport, Insights
from retrieval.models import Answer
from retrieval.written import Writer, WriterOptions

log = logging.getLogger(__name__)
READER_KEY = "reader"


@cache
def load_reader() -> Reader:
    """The reader exported into ``index/encode/reader_model/`` (``index.encode.reader``),
    loaded once per process (its ONNX session is shared: it scores one batch at a time)."""
    return Reader()


def note_reader(storage: Storage, name: str) -> None:
    """Keep the reader's name (with its weights' hash) in the store, and say so when it is
    not the one that answered here before: answers may then choose other first quotes."""
    before = storage.meta_get(READER_KEY)
    if before == name:
        return
    if before is not None:
        log.warning("the reader changed since this data was last answered from (%s, now %s): "
                    "first quotes may differ from before", before, name)
    storage.meta_set(READER_KEY, name)


def open_storage(settings: Settings, *, model: str, dim: int) -> Storage:
    """The configured backend: PostgreSQL when ``database_url`` is set, else the embedded one."""
    if settings.database_url is None:
        return EmbeddedStorage(
            settings.data_dir, model=model, dim=dim,
            approximate_threshold=settings.approximate_threshold,
            lexical_max_df=settings.lexical_max_df)
    from index.store.postgres import open_postgres

    read_url = settings.database_read_url
    return open_postgres(
        settings.database_url.get_secret_value(), model=model, dim=dim,
        read_url=read_url.get_secret_value() if read_url else None,
        pool_size=settings.database_pool_size,
        replica_wait_s=settings.database_replica_wait_s,
        lexical_max_df=settings.lexical_max_df,
        approximate_threshold=settings.approximate_threshold,
        probes=settings.database_probes)


@dataclass
class Core:
    """Everything an interface needs, built once and passed down; a context manager."""

    settings: Settings
    embedder: Embedder
    storage: Storage
    indexer: Indexer
    answerer: Answerer
    poller: FeedPoller
    conversations: Conversations
    insights: Insights  # what members asked that nothing answered, where an admin allows
    writer: Writer | None = None  # written answers, when a language model is configured

    @classmethod
    def open(cls, settings: Settings, *, embedder: Embedder | None = None) -> Core:
        """Load the model (unless one is given) and open the data directory."""
        embedder = embedder or load_embedder(
            settings.model, batch_size=settings.embed_batch_size, encoder=settings.encoder,
            cache_dir=settings.model_cache)
        reader = load_reader() if settings.reader else None
        storage = open_storage(settings, model=embedder.name, dim=embedder.dim)
        indexer = Indexer(options=IndexerOptions.from_settings(settings), storage=storage,
                          embedder=embedder)
        if reader is not None:
            note_reader(storage, reader.name)
        return cls(
            settings=settings, embedder=embedder, storage=storage, indexer=indexer,
            answerer=Answerer(options=AnswerOptions.from_settings(settings), storage=storage,
                              embedder=embedder, reader=reader),
            poller=FeedPoller(options=PollerOptions.from_settings(settings), storage=storage,
                              indexer=indexer),
            conversations=Conversations(
                storage, idle_s=60 * settings.conversation_idle_minutes,
                max_turns=settings.conversation_max_turns),
            insights=Insights(storage, embedder),
            writer=Writer.configured(WriterOptions.from_settings(settings)))

    def __enter__(self) -> Core:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.indexer.close()
        self.storage.close()

    # -- questions ------------------------------------------------------------------------
    def ask(self, collection: str, question: str, *, article_id: str | None = None,
            as_of: date | None = None, conversation: str | None = None, write: bool = False,
            on_draft: Callable[[Answer], None] | None = None) -> Answer:
        """The cited answer (see ``Answerer.ask``). With ``conversation`` (a key: its id, or
        one linked to it), the question is read as a follow-up of that conversation's earlier
        turns and kept as its next turn; a key that names no live conversation starts one
        with that id (see ``retrieval.conversation``). With ``write`` and a language model
        configured, written by the model over citebot's quotes (``on_draft`` sees each
        verified draft; a follow-up is first made standalone by the model), and the
        quotes-only answer on any failure of the model (docs/LLM.md). A question answered
        "not found" is kept for insights where its collection has them on."""
        check_collection(collection)
        key = None if conversation is None else check_conversation(conversation)
        dialogue = Dialogue(self.answerer, self.conversations, self.writer if write else None)
        answer = dialogue.ask(collection, question, article_id=article_id, as_of=as_of,
                              conversation=key, on_draft=on_draft)
        if not answer.found:
            self.insights.note_not_found(collection, answer.question)
        return answer

    @property
    def writes(self) -> bool:
        """Whether answers can be written by a language model (one is configured)."""
        return self.writer is not None

    def conversation(self, collection: str, key: str) -> Conversation | None:
        """The live conversation a key names in the collection, if any."""
        return self.conversations.get(check_collection(collection), check_conversation(key))

    def link_conversation(self, collection: str, key: str, new_key: str) -> None:
        """Let ``new_key`` (say, the message that showed an answer) name the conversation
        ``key`` names; nothing if that conversation is gone."""
        self.conversations.link(check_collection(collection), key, check_conversation(new_key))

    def vote(self, vote: Vote) -> None:
        """Keep a member's 👍/👎 on an answer (a later vote on it replaces theirs)."""
        check_collection(vote.collection)
        self.storage.record_vote(vote)
        self.insights.note_vote(vote)

    # -- insights: what members asked that nothing answered -------------------------------
    def insights_report(self, collection: str, days: int = DEFAULT_DAYS) -> InsightReport:
        """The top gaps of the last ``days``: alike questions grouped (off: none)."""
        return self.insights.report(check_collection(collection), days)

    def enable_insights(self, collection: str,
                        retention_days: int = DEFAULT_RETENTION_DAYS) -> InsightSwitch:
        """Keep unanswered and 👎'd questions (never who asked) for ``retention_days``."""
        return self.insights.enable(check_collection(collection), retention_days)

    def disable_insights(self, collection: str) -> int:
        """Stop keeping questions and delete those kept; how many were."""
        return self.insights.disable(check_collection(collection))

    # -- articles in ----------------------------------------------------------------------
    def add_url(self, collection: str, url: str, *, title: str | None = None,
                added_by: str | None = None) -> AddResult:
        return self.indexer.add_url(check_collection(collection), url, title=title,
                                    added_by=added_by)

    def add_file(self, collection: str, path: Path, *, title: str | None = None) -> AddResult:
        return self.indexer.add_file(check_collection(collection), path, title=title)

    def add_document(self, collection: str, name: str, data: bytes, *,
                     title: str | None = None, added_by: str | None = None) -> AddResult:
        return self.indexer.add_document(check_collection(collection), name, data, title=title,
                                         added_by=added_by)

    def add_text(self, collection: str, *, title: str, text: str,
                 added_by: str | None = None) -> AddResult:
        return self.indexer.add_text(check_collection(collection), title=title, text=text,
                                     added_by=added_by)

    def add_jsonl(self, collection: str, lines: Iterable[str | BadLine]) -> Iterator[BulkItem]:
        return self.indexer.add_jsonl(check_collection(collection), lines)

    def remove(self, collection: str, article_id: str) -> Article:
        return self.indexer.remove(check_collection(collection), article_id)

    def rebuild(self, collection: str,
                progress: Callable[[int, int], None] | None = None) -> int:
        """Re-embed every article with the configured model; the vector count."""
        return self.indexer.rebuild(check_collection(collection), progress)

    # -- reading --------------------------------------------------------------------------
    def article(self, collection: str, article_id: str) -> Article:
        return self.storage.get_article(check_collection(collection), article_id)

    def articles(self, collection: str, *, limit: int = 1000, offset: int = 0,
                 search: str | None = None) -> list[Article]:
        """Articles, newest first; ``search`` matches titles and ids."""
        return self.storage.list_articles(check_collection(collection), limit=limit,
                                          offset=offset, search=search)

    def stats(self, collection: str) -> Stats:
        return self.storage.stats(check_collection(collection))

    def reader_name(self) -> str | None:
        """The name of the reader that chooses the first quote (with its weights' hash), or
        None when answering ranks sentences without it (``CITEBOT_READER=false``)."""
        reader = self.answerer.reader
        return reader.name if reader is not None else None

    def collections(self) -> list[str]:
        """The collections holding at least one article, by name."""
        return self.storage.collections()

    # -- news that comes in by itself (docs/FEEDS.md) --------------------------------------
    def add_feed(self, collection: str, url: str, *, channel_id: int | None = None,
                 added_by: str | None = None) -> Feed:
        """Subscribe to a feed (or to the feed a page names); again, to resume a paused one."""
        return self.poller.subscribe(check_collection(collection), url, channel_id=channel_id,
                                     added_by=added_by)

    def feeds(self, collection: str | None) -> list[Feed]:
        """A collection's feeds (every collection's with None)."""
        return self.storage.list_feeds(collection)

    def remove_feed(self, collection: str, ref: str) -> Feed:
        """Unsubscribe, by the feed's number or address; its articles stay."""
        return self.poller.unsubscribe(check_collection(collection), ref)

    def due_feeds(self, limit: int = 500, shards: ShardFilter | None = None) -> list[Feed]:
        """Feeds of every collection whose next poll is due (with ``shards``, only those
        one bot process polls)."""
        return self.poller.due(limit, shards)

    def poll_feed(self, feed_id: int, *, force: bool = False) -> PollReport:
        """Poll one feed now and take in its new entries."""
        return self.poller.poll(feed_id, force=force)

    def poll_due(self, *, stop: Event | None = None) -> list[PollReport]:
        """Poll every due feed once, politely (one request per host at a time)."""
        return self.poller.poll_due(stop=stop)

    def apply_retention(self) -> int:
        """Remove articles that came in by themselves before the retention; how many."""
        return self.poller.apply_retention()

    def watch(self, collection: str, channel_id: int, *, added_by: str | None = None) -> None:
        """Index the links members post in a channel."""
        self.storage.watch_channel(check_collection(collection), channel_id, added_by,
                                   self.poller.clock())

    def unwatch(self, collection: str, channel_id: int) -> bool:
        """Stop watching a channel; whether it was watched."""
        return self.storage.unwatch_channel(check_collection(collection), channel_id)

    def watched(self) -> list[Watched]:
        """Every watched channel, of every collection."""
        return self.storage.watched_channels()

    def add_links(self, collection: str, urls: list[str], *, added_by: str,
                  origin: str) -> list[Taken]:
        """Add links posted in a watched channel (deduplicated, within the daily quota)."""
        return self.poller.entries.add_links(check_collection(collection), urls,
                                             added_by=added_by, origin=origin)

    # -- interface state ------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A value an interface kept (for example, the hash of the last command sync)."""
        return self.storage.meta_get(key)

    def set_meta(self, key: str, value: str) -> None:
        self.storage.meta_set(key, value)
