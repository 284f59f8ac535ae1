"""A sentence-transformers model run with ONNX Runtime: fast start, fast single queries.

The model's transformer is exported to ONNX once (with torch, on first use) and cached once
per user (keyed by the model's content, shared by every data directory); optionally quantised
to int8 weights. Loading it afterwards needs neither torch
nor sentence-transformers, which keeps cold start short. Only models made of a transformer,
mean pooling and normalisation (all-MiniLM-L6-v2 and most sentence-transformers models) can
run this way; ``supports`` says whether one does.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from index.encode.fingerprint import model_key
from index.errors import StorageError
from index.failures import storage_error

log = logging.getLogger(__name__)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def supports(model_dir: Path) -> bool:
    """Whether a local sentence-transformers model is transformer + mean pooling (+ normalise)."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        types = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = next(m for m in modules if m["type"].endswith("Pooling"))
        config = json.loads((model_dir / pooling["path"] / "config.json").read_text())
    except (OSError, ValueError, KeyError, StopIteration):
        return False
    return (types[:2] == ["Transformer", "Pooling"] and set(types[2:]) <= {"Normalize"}
            and config.get("pooling_mode_mean_tokens") is True
            and (model_dir / "tokenizer.json").exists())


EXPORT_VERSION = 1  # raise when the export itself changes: older exports are then not reused


def export_dir(model_dir: Path, cache_dir: Path) -> Path:
    """The folder of a model's exports in ``cache_dir``: one per model content (its files'
    SHA-256, ``index.encode.fingerprint``), wherever the model lies and whichever data
    directory uses it."""
    key = hashlib.sha256(f"{EXPORT_VERSION}:{model_key(model_dir, cache_dir)}".encode())
    return cache_dir / f"{model_dir.name}-{key.hexdigest()[:16]}"


def export(model_dir: Path, cache_dir: Path, *, quantize: bool) -> Path:
    """The ONNX file for a model, exported (and quantised) once into ``cache_dir``.

    Processes and threads exporting the same model at once wait for the first, then use its
    file. Raises StorageError when the cache cannot be written (a full or read-only disk),
    leaving no partial file behind.
    """
    target = export_dir(model_dir, cache_dir) / ("model-int8.onnx" if quantize
                                                 else "model.onnx")
    if target.exists():
        return target
    fp32 = target.with_name("model.onnx")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _exporting(target.parent):
            if target.exists():  # another process exported it while this one waited
                return target
            _remove_abandoned(target.parent)
            if not fp32.exists():
                _export_fp32(model_dir, fp32)
            if quantize:
                _quantize(fp32, target)
    except Exception as exc:
        cause = exc if isinstance(exc, OSError) else exc.__cause__
        if not isinstance(cause, OSError):
            raise
        with suppress(OSError):
            (target.parent / _LOCK).unlink(missing_ok=True)
            target.parent.rmdir()  # only if the failure left it empty
        raise StorageError(
            f"{storage_error(cause, 'export the model to ONNX', cache_dir)} Or run the model "
            "with torch, which needs no export: set CITEBOT_ENCODER=torch.") from exc
    return target


_LOCK = "export.lock"


@contextmanager
def _exporting(directory: Path) -> Iterator[None]:
    """One export of a model at a time, across processes and threads (an flock is held per
    open file, so threads of one process wait for each other too)."""
    with open(directory / _LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # closing the file releases it
        yield


@contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, moved onto it when the block succeeds and removed
    when anything fails (a partial export is as large as the model)."""
    tmp = target.with_suffix(f".{os.getpid()}-{secrets.token_hex(4)}.tmp.onnx")
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def _remove_abandoned(directory: Path) -> None:
    """Remove the partial exports of processes that were killed while exporting."""
    for tmp in directory.glob("*.tmp.onnx"):
        pid = tmp.suffixes[-3].lstrip(".").split("-")[0] if len(tmp.suffixes) >= 3 else ""
        if pid.isdigit() and not _alive(int(pid)):
            with suppress(OSError):
                tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process
    return True


def _quantize(fp32: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _staged(target) as tmp, _quiet_root_suggestion():
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)


@contextmanager
def _quiet_root_suggestion() -> Iterator[None]:
    """Drop the pre-processing suggestion onnxruntime's quantizer logs straight on the root
    logger, for this call only (a filter on the root logger sees only records logged on it)."""

    def drop(record: logging.LogRecord) -> bool:
        return "pre-process" not in record.getMessage().lower()

    root = logging.getLogger()
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


def _export_fp32(model_dir: Path, target: Path) -> None:
    log.info("exporting %s to ONNX (once)", model_dir.name)
    try:
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as transformers_logging
    except ImportError as exc:
        raise StorageError("Exporting the model to ONNX needs torch and transformers.") from exc

    class _LastHidden(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    transformers_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    dummy = tuple(torch.ones(1, 8, dtype=torch.long) for _ in INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    with torch.no_grad(), warnings.catch_warnings(), _staged(target) as tmp:
        warnings.simplefilter("ignore")  # the exporter's tracer warnings are not for users
        torch.onnx.export(_LastHidden(model), dummy, str(tmp), input_names=list(INPUTS),
                          output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)


def cpu_session(onnx_path: Path, threads: int | None = None) -> Any:
    """An ONNX Runtime session for a model file, on the CPU (with ``threads`` intra-op
    threads, or ONNX Runtime's default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


_BATCH_TOKENS = 64 * 64  # tokens per model batch: 64 windows of a typical paragraph


class OnnxEmbedder:
    """Mean-pooled, normalised embeddings from an exported transformer."""

    def __init__(self, name: str, model_dir: Path, onnx_path: Path, *, batch_size: int = 64,
                 threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        self.name = name
        self.batch_size = batch_size
        config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        self.max_tokens = int(config.get("max_seq_length", 256))
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._session = cpu_session(onnx_path, threads)
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dim = int(json.loads((model_dir / "config.json").read_text())["hidden_size"])
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text).ids)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        out = np.zeros((len(texts), self.dim), np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        lengths = [min(len(e.ids), self.max_tokens) for e in encodings]
        order = np.argsort(lengths)  # batch by length: less padding
        start = 0
        while start < len(order):
            # long windows in smaller batches: the model's memory grows with rows x length
            longest = lengths[order[min(start + self.batch_size, len(order)) - 1]]
            size = max(1, min(self.batch_size, _BATCH_TOKENS // max(longest, 1)))
            rows = order[start:start + size]
            out[rows] = self._run([encodings[i] for i in rows])
            start += size
        return out

    def _run(self, encodings: list) -> np.ndarray:  # type: ignore[type-arg]
        length = min(max(len(e.ids) for e in encodings), self.max_tokens)
        ids = np.zeros((len(encodings), length), np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            n = min(len(e.ids), length)
            ids[row, :n] = e.ids[:n]
            if n < len(e.ids):  # over the model's input: keep the final [SEP]
                ids[row, n - 1] = e.ids[-1]
            mask[row, :n] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        with self._lock:
            hidden = self._session.run(None, {k: v for k, v in feed.items()
                                              if k in self._inputs})[0]
        summed = (hidden * mask[..., None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
