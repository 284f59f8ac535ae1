"""The core, assembled once per process, and the one route every interface takes into it.

The command line, the Discord bot and the evaluation all call these methods; none of them
reaches into storage or the indexer. Errors are the domain errors of ``index.errors``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType

from config.settings import Settings
from index.encode.embed import Embedder, load_embedder
from index.indexer import AddResult, BadLine, BulkItem, Indexer
from index.models import Article
from index.store import EmbeddedStorage, Stats, Storage, Vote
from retrieval.answer import Answerer
from retrieval.models import Answer


@dataclass
class Core:
    """Everything an interface needs, built once and passed down; a context manager."""

    settings: Settings
    embedder: Embedder
    storage: Storage
    indexer: Indexer
    answerer: Answerer

    @classmethod
    def open(cls, settings: Settings, *, embedder: Embedder | None = None) -> Core:
        """Load the model (unless one is given) and open the data directory."""
        embedder = embedder or load_embedder(
            settings.model, batch_size=settings.embed_batch_size, encoder=settings.encoder,
            cache_dir=settings.model_cache)
        storage = EmbeddedStorage(
            settings.data_dir, model=embedder.name, dim=embedder.dim,
            approximate_threshold=settings.approximate_threshold,
            lexical_max_df=settings.lexical_max_df)
        return cls(
            settings=settings, embedder=embedder, storage=storage,
            indexer=Indexer(settings=settings, storage=storage, embedder=embedder),
            answerer=Answerer(settings=settings, storage=storage, embedder=embedder))

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
            as_of: date | None = None) -> Answer:
        """The cited answer (see ``Answerer.ask``)."""
        return self.answerer.ask(collection, question, article_id=article_id, as_of=as_of)

    def vote(self, vote: Vote) -> None:
        """Keep a member's 👍/👎 on an answer (a later vote on it replaces theirs)."""
        self.storage.record_vote(vote)

    # -- articles in ----------------------------------------------------------------------
    def add_url(self, collection: str, url: str, *, title: str | None = None,
                added_by: str | None = None) -> AddResult:
        return self.indexer.add_url(collection, url, title=title, added_by=added_by)

    def add_file(self, collection: str, path: Path, *, title: str | None = None) -> AddResult:
        return self.indexer.add_file(collection, path, title=title)

    def add_document(self, collection: str, name: str, data: bytes, *,
                     title: str | None = None, added_by: str | None = None) -> AddResult:
        return self.indexer.add_document(collection, name, data, title=title, added_by=added_by)

    def add_text(self, collection: str, *, title: str, text: str,
                 added_by: str | None = None) -> AddResult:
        return self.indexer.add_text(collection, title=title, text=text, added_by=added_by)

    def add_jsonl(self, collection: str, lines: Iterable[str | BadLine]) -> Iterator[BulkItem]:
        return self.indexer.add_jsonl(collection, lines)

    def remove(self, collection: str, article_id: str) -> Article:
        return self.indexer.remove(collection, article_id)

    def rebuild(self, collection: str,
                progress: Callable[[int, int], None] | None = None) -> int:
        """Re-embed every article with the configured model; the vector count."""
        return self.indexer.rebuild(collection, progress)

    # -- reading --------------------------------------------------------------------------
    def article(self, collection: str, article_id: str) -> Article:
        return self.storage.get_article(collection, article_id)

    def articles(self, collection: str, *, limit: int = 1000, offset: int = 0,
                 search: str | None = None) -> list[Article]:
        """Articles, newest first; ``search`` matches titles and ids."""
        return self.storage.list_articles(collection, limit=limit, offset=offset, search=search)

    def stats(self, collection: str) -> Stats:
        return self.storage.stats(collection)

    # -- interface state ------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A value an interface kept (for example, the hash of the last command sync)."""
        return self.storage.meta_get(key)

    def set_meta(self, key: str, value: str) -> None:
        self.storage.meta_set(key, value)
