"""Test doubles that are fakes, not mocks: they do the real thing, only smaller."""

from __future__ import annotations

import hashlib
import itertools
import re

import numpy as np


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
