"""Answers written by a language model, every quote verified (docs/LLM.md).

``prompt`` (what the model is sent), ``claims`` (reading and checking what it wrote),
``client`` (the only module that imports ``openai``), ``options`` (what they read of the
settings), ``writer`` (`Writer`: drafts, the
deadline, falling back to the extractive answer).
"""

from retrieval.written.options import WriterOptions
from retrieval.written.prompt import Exchange
from retrieval.written.writer import Outcome, Writer

__all__ = ["Exchange", "Outcome", "Writer", "WriterOptions"]
