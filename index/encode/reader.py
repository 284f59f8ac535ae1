"""The reader: a small cross-encoder that reads a question and a candidate sentence together and
scores whether the sentence answers it (trained here from the bundled all-MiniLM-L6-v2
weights by ``benchmarks/train_reader.py``; docs/EVALUATION.md has the recipe).

Its weights are an int8 ONNX file in ``reader_model/`` beside this module, run on ONNX Runtime
with the bundled model's tokenizer, so loading them needs neither torch nor a download. None
ships yet: no reader trained so far beats the linear sentence ranking on held-out questions
(docs/EVALUATION.md), so answering reads with one only when ``CITEBOT_READER`` is on.
``reader_pair`` is the one place that says what the reader reads: training and answering both
call it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import numpy as np

from index.errors import MissingDependencyError

MODEL_DIR = Path(__file__).with_name("reader_model")
MODEL_FILE = MODEL_DIR / "reader-int8.onnx"
MAX_TOKENS = 96


def reader_pair(question: str, title: str, before: str, sentence: str,
                after: str) -> tuple[str, str]:
    """What the reader reads: the question, and the sentence followed by the article's title
    and the sentences around it (cut from the end when too long, so the sentence itself is
    always read whole)."""
    context = " ".join(t for t in (before, after) if t)
    return question, f"{sentence} | {title} | {context}"


def model_hash(path: Path = MODEL_FILE) -> str:
    """The first 16 hex digits of the SHA-256 of the reader's weights (kept in manifests)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def linear_weight(onnx_path: Path) -> float:
    """The weight of the linear sentence score the reader was trained beside (its logit is a
    correction of that score; ``training.json`` from ``benchmarks/train_reader.py``)."""
    recipe = json.loads(onnx_path.with_name("training.json").read_text(encoding="utf-8"))
    if recipe.get("linear_weight") is None:
        raise MissingDependencyError(
            "The reader in reader_model/ was trained alone; answering reads it only as a "
            "correction of the linear score (benchmarks/train_reader.py --residual).")
    return float(recipe["linear_weight"])


class Reader:
    """Scores (question, sentence) pairs with the exported reader; build once, reuse."""

    def __init__(self, onnx_path: Path | None = None, *, threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        from index.encode.onnx_encoder import cpu_session

        onnx_path = onnx_path or MODEL_FILE
        if not onnx_path.exists():
            raise MissingDependencyError(
                f"CITEBOT_READER is on, but the reader's weights are not installed "
                f"({onnx_path.parent.name}/{onnx_path.name} beside index/encode/reader.py). "
                "Train and export one (docs/EVALUATION.md, \"The reader\"), or set "
                "CITEBOT_READER=false.")
        self.path = onnx_path
        self.name = f"citebot-reader-{model_hash(onnx_path)}"
        self.linear_weight = linear_weight(onnx_path)
        self._tokenizer = Tokenizer.from_file(str(onnx_path.with_name("tokenizer.json")))
        self._tokenizer.enable_truncation(MAX_TOKENS, strategy="only_second")
        self._tokenizer.enable_padding()
        self._session = cpu_session(onnx_path, threads)
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()

    def score(self, pairs: list[tuple[str, str]], batch: int = 1) -> np.ndarray:
        """One logit per pair: higher when the second text answers the first. One pair a run
        by default: int8 weights quantise each run's activations with one scale, so in a
        batch a pair's logit would depend on the others beside it and on their padding (by
        0.4 for one pair measured)."""
        out = np.zeros(len(pairs), np.float32)
        for start in range(0, len(pairs), batch):
            chunk = pairs[start:start + batch]
            encodings = self._tokenizer.encode_batch(chunk)
            feed = {
                "input_ids": np.array([e.ids for e in encodings], np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], np.int64)}
            with self._lock:
                logits = self._session.run(None, {k: v for k, v in feed.items()
                                                  if k in self._inputs})[0]
            out[start:start + len(chunk)] = logits.reshape(-1)
        return out
