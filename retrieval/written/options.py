"""What written answers read of the settings, made once (``Core.open``): the model's server and
the bounds of each request (``ModelOptions``, for the client), and the prompt's budget and the
answer's length (``WriterOptions``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.settings import Settings


@dataclass(frozen=True)
class ModelOptions:
    """An OpenAI-compatible server and model, and the time a request may take."""

    base_url: str
    model: str
    timeout_s: float
    api_key: str = field(default="", repr=False)  # never shown

    @property
    def configured(self) -> bool:
        """Whether written answers are on: a base URL and a model are both set."""
        return bool(self.base_url and self.model)


@dataclass(frozen=True)
class WriterOptions:
    """The model, the passages it is given and the budgets of its prompt and its answer."""

    model: ModelOptions
    passages: int
    prompt_tokens: int
    max_tokens: int
    stream: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> WriterOptions:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
        model = ModelOptions(base_url=(settings.llm_base_url or "").strip(),
                             model=(settings.llm_model or "").strip(),
                             timeout_s=settings.llm_timeout_s, api_key=key.strip())
        return cls(model=model, passages=settings.llm_passages,
                   prompt_tokens=settings.llm_prompt_tokens,
                   max_tokens=settings.llm_max_tokens, stream=settings.llm_stream)

    @property
    def timeout_s(self) -> float:
        """Seconds the model has for a whole answer (or a rewrite)."""
        return self.model.timeout_s
