"""The core, assembled once per process: settings -> model -> storage -> indexer, answerer."""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings
from index.encode.embed import Embedder, load_embedder
from index.indexer import Indexer
from index.store import EmbeddedStorage, Storage
from retrieval.answer import Answerer


@dataclass
class Core:
    """Everything an interface needs, built once and passed down."""

    settings: Settings
    embedder: Embedder
    storage: Storage
    indexer: Indexer
    answerer: Answerer

    @classmethod
    def open(cls, settings: Settings, *, embedder: Embedder | None = None) -> Core:
        """Load the model (once) and open the data directory."""
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

    def close(self) -> None:
        self.storage.close()
