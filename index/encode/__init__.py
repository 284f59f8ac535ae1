"""Turning text into vectors: the ``Embedder`` protocol and ``load_embedder``, which builds the
configured model (sentence-transformers, or the same model exported to ONNX Runtime)."""

from index.encode.embed import Embedder, load_embedder

__all__ = ["Embedder", "load_embedder"]
