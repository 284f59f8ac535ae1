"""The ONNX encoder gives the torch model's vectors; int8 is its own index."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from config.settings import BUNDLED_MODEL
from index.encode.embed import Embedder, load_embedder

TEXTS = ["What did Pompeo say about remains repatriation?",
         "The council voted 7-2 on Tuesday to build a retractable flood barrier.",
         "word " * 600,  # longer than the model's input
         "Ünïcödé, 北京 and emoji 🎉 all tokenise."]


def test_onnx_matches_torch(real_embedder: Embedder, model_cache: Path) -> None:
    onnx = load_embedder(BUNDLED_MODEL, batch_size=64, encoder="onnx", cache_dir=model_cache)
    assert type(onnx).__name__ == "OnnxEmbedder" and onnx.name == real_embedder.name
    a, b = real_embedder.embed(TEXTS), onnx.embed(TEXTS)
    assert a.shape == b.shape == (4, 384)
    assert np.min(np.sum(a * b, axis=1)) > 0.9999
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert [onnx.count_tokens(t) for t in TEXTS] == [real_embedder.count_tokens(t) for t in TEXTS]
    assert np.allclose(onnx.embed_query(TEXTS[0]), b[0], atol=1e-5)


def test_int8_is_close_but_a_different_index(real_embedder: Embedder, model_cache: Path) -> None:
    int8 = load_embedder(BUNDLED_MODEL, batch_size=64, encoder="onnx-int8",
                         cache_dir=model_cache)
    assert int8.name == BUNDLED_MODEL + "#int8" != real_embedder.name
    sims = np.sum(real_embedder.embed(TEXTS[:2]) * int8.embed(TEXTS[:2]), axis=1)
    assert np.all(sims > 0.85)
