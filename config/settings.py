"""citebot's settings: one object, built once at start-up and passed down.

Every value can be set from the environment with the ``CITEBOT_`` prefix (``CITEBOT_DATA_DIR``,
``CITEBOT_MODEL``, ...) or from a ``.env`` file in the working directory. Nothing else in the
project reads environment variables. How values are read and checked, and how a refused one is
told, is in ``config.checks``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from config import checks
from config.checks import (
    MAX_SHARDS,
    POSTGRES_SCHEMES,
    Port,
    parse_address,
    parse_list,
    parse_shard_ids,
    user_cache_dir,
)

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"
__all__ = ["BUNDLED_MODEL", "POSTGRES_SCHEMES", "Settings", "parse_shard_ids"]  # imported here


class Settings(BaseSettings):
    """Configuration of the indexer, the retrieval and the interfaces."""

    model_config = SettingsConfigDict(
        env_prefix="CITEBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("citebot-data"), description="Where SQLite and the vector indexes live."
    )
    database_url: SecretStr | None = Field(
        default=None,
        description=(
            "postgresql://... to keep everything in PostgreSQL with pgvector (several bot "
            "shards and importers on one database; docs/SCALING.md). Unset: the embedded store "
            "(SQLite + FAISS files in DATA_DIR)."),
    )
    database_read_url: SecretStr | None = Field(
        default=None,
        description=(
            "postgresql://... of a streaming replica to read from (questions, lists); writes "
            "go to DATABASE_URL."),
    )
    database_pool_size: int = Field(
        default=8, ge=1, description="Connections each process keeps to each database.")
    database_replica_wait_s: float = Field(
        default=2.0, ge=0,
        description=(
            "After this process changes a collection, how long its reads wait for the replica "
            "to replay the change before reading from the primary instead."),
    )
    database_probes: int = Field(
        default=40, ge=1, le=1000,
        description=(
            "PostgreSQL's vector search: the lists of its IVFFlat index a search scans, "
            "their passages re-scored exactly. Higher finds more of the exact nearest "
            "passages and takes longer (measured in docs/SCALING.md)."),
    )
    model: str = Field(
        default=BUNDLED_MODEL,
        description=(
            "Embedding model: a sentence-transformers name or path, or "
            f"'{BUNDLED_MODEL}' for the copy that ships with the package."
        ),
    )
    encoder: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        default="auto",
        description=(
            "How the model runs: 'torch' (sentence-transformers), 'onnx' (same vectors, faster), "
            "'onnx-int8' (int8 weights, fastest; its own index) or 'auto' (ONNX when possible)."
        ),
    )
    model_cache_dir: Path | None = Field(
        default_factory=lambda: user_cache_dir(),
        description="Where ONNX exports of the model are kept, once per user for every data "
        "directory ($XDG_CACHE_HOME/citebot or ~/.cache/citebot).",
    )
    embed_batch_size: int = Field(default=64, ge=1)
    approximate_threshold: int = Field(
        default=50_000,
        ge=0,
        description=(
            "Above this many vectors a collection uses an approximate index (IVF with 8-bit "
            "scalar quantisation, re-scored exactly; on PostgreSQL, above this many "
            "paragraphs, an IVFFlat index, built once the database holds this many); below "
            "it, search is exact on both backends."),
    )
    lexical_max_df: int = Field(
        default=1_000,
        ge=0,
        description=(
            "A question word found in more passages than this finds no BM25 candidates (it "
            "still counts in the score of every candidate found otherwise), so the time per "
            "question stays bounded as a collection grows. 0: every word finds candidates."),
    )

    # Retrieval
    candidates: int = Field(default=30, ge=5, description="Candidates taken from each retriever.")
    passages: int = Field(default=8, ge=1, description="Passages returned with an answer.")
    max_quotes: int = Field(default=3, ge=1, le=10)
    reader: bool = Field(
        default=False,
        description=("Read the linear ranking's best sentences again with a reader (a small "
                     "cross-encoder trained by benchmarks/train_reader.py and exported into "
                     "index/encode/reader_model/) before choosing the first quote. Off by "
                     "default: none trained so far beats the linear ranking (docs/EVALUATION.md)."),
    )
    min_score: float = Field(
        default=0.40,
        description=("Learned probability that the best sentence answers, below which citebot "
                     "says it has no answer (calibrated in docs/EVALUATION.md)."),
    )

    # Conversations (follow-up questions)
    conversation_idle_minutes: float = Field(
        default=60.0, gt=0,
        description="A conversation idle this long is forgotten; its next question starts anew.")
    conversation_max_turns: int = Field(
        default=10, ge=1, le=100,
        description="Turns a conversation keeps (older ones are forgotten, oldest first).")

    # Getting articles in
    max_article_bytes: int = Field(default=5_000_000, ge=1_000)
    max_article_paragraphs: int = Field(
        default=1_000, ge=1,
        description=("Paragraphs one article may have: each is split into sentences and "
                     "embedded, so this bounds the work of one add (bytes alone do not)."))
    max_article_words: int = Field(
        default=20_000, ge=100,
        description="Words one article may have (a long read is 5,000-10,000).")
    max_article_tokens: int = Field(
        default=60_000, ge=1_000,
        description=("Tokens of the embedding model one article may have: they, not the "
                     "words, are what splitting and embedding cost (prose has one or two a "
                     "word; a text of random letters, dozens)."))
    fetch_timeout_s: float = Field(default=20.0, gt=0)
    extract_timeout_s: float = Field(default=30.0, gt=0)
    fetch_allow_networks: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description=(
            "CIDRs that may be fetched although private (self-hosting). Loopback is opened "
            "only by an entry inside 127.0.0.0/8 or equal to ::1/128 (e.g. '127.0.0.1/32'), "
            "never by a broader one such as '0.0.0.0/0' or '::/0'; cloud metadata, link-local "
            "(169.254.0.0/16, fe80::/10) and 0.0.0.0/8 are never fetched; an IPv6 range does "
            "not open the IPv4 addresses carried inside it (mapped, NAT64, 6to4, Teredo)."),
    )
    fetch_allow_ports: Annotated[tuple[Port, ...], NoDecode] = Field(
        default=(80, 443), min_length=1,
        description=(
            "Ports that may be fetched, like '80,443,8080' or '[80, 443, 8080]' (self-hosted "
            "feeds and pages on other ports)."),
    )
    fetch_use_env_proxy: bool = False

    # News that comes in by itself: feeds and watched channels (docs/FEEDS.md)
    feed_interval_s: float = Field(
        default=900.0, ge=1.0,
        description="Seconds between two polls of a feed (more if the feed asks; jittered).")
    feed_max_interval_s: float = Field(
        default=86_400.0, ge=1.0,
        description="The longest wait between two polls (a feed's ttl and backoff are capped).")
    feed_failures_to_pause: int = Field(
        default=8, ge=1,
        description="Failed polls in a row after which a feed is paused (backing off between).")
    feed_max_bytes: int = Field(default=10_000_000, ge=10_000,
                                description="Largest feed document accepted.")
    feed_entries_per_poll: int = Field(
        default=25, ge=1, description="New entries one poll of one feed turns into articles.")
    feed_max_per_server: int = Field(default=20, ge=0, description="Feeds one collection may have.")
    feed_articles_per_day: int = Field(
        default=200, ge=0,
        description="New articles feeds and watched channels may add to one collection a day.")
    feed_concurrency: int = Field(
        default=2, ge=1, description="Feed and entry fetches running at once, across servers.")
    feed_retention_days: float | None = Field(
        default=None, gt=0,
        description="Remove articles feeds and watched channels added longer ago than this.")

    # Written answers by a language model (off unless a base URL and a model are set; docs/LLM.md)
    llm_base_url: str | None = Field(
        default=None,
        description=("An OpenAI-compatible API, e.g. 'http://127.0.0.1:11434/v1' (Ollama); "
                     "with CITEBOT_LLM_MODEL, answers are written by the model, every quote "
                     "verified."))
    llm_model: str | None = Field(default=None, description="The model's name on that server.")
    llm_api_key: SecretStr | None = Field(
        default=None, description="The API key, if the server wants one (never logged).")
    llm_timeout_s: float = Field(
        default=20.0, gt=0, le=600,
        description="Seconds the model has for a whole answer before the extractive one is "
                    "sent instead.")
    llm_max_tokens: int = Field(
        default=400, ge=32, le=4_000, description="Tokens the model may write for one answer.")
    llm_prompt_tokens: int = Field(
        default=3_000, ge=300, le=100_000,
        description="Budget of the prompt: passages that do not fit are not sent (about four "
                    "characters a token).")
    llm_passages: int = Field(default=4, ge=1, le=10,
                              description="Retrieved passages the model is given.")
    llm_stream: bool = Field(default=True,
                             description="Ask for the answer as a stream (fills in on Discord).")

    # Discord
    discord_token: SecretStr | None = None
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    discord_message_content: bool = Field(
        default=False,
        description=("Ask Discord for the privileged Message Content intent (enable it in the "
                     "developer portal first). Watched channels need it, and with it any message "
                     "in a conversation thread is a follow-up; without it, follow-ups mention the "
                     "bot or use /ask."))
    dev_guild_id: int | None = None
    ask_cooldown_s: float = Field(default=5.0, ge=0)
    discord_threads: bool = Field(
        default=True,
        description=("Open a thread on every answer for follow-up questions, where the channel "
                     "allows threads; off, follow-ups are replies to an answer."))
    add_quota_per_hour: int = Field(default=30, ge=1)
    shutdown_grace_s: float = Field(default=20.0, ge=0)

    # Operating (docs/OPERATING.md)
    metrics_address: str | None = Field(
        default=None,
        description=("Serve /healthz and /metrics (Prometheus) over HTTP at this address from "
                     "`citebot run`: 'PORT' (on 127.0.0.1) or 'HOST:PORT'; unset: no endpoint."))
    health_stuck_s: float = Field(
        default=300.0, gt=0,
        description=("/healthz says the worker is stuck when work has waited this many "
                     "seconds for a thread while no core call finished."))
    log_format: Literal["text", "json"] = Field(
        default="text", description="'json': one JSON object per log record, per line.")

    # Several bot processes (docs/SCALING.md, "Bot shards")
    shard_count: int | None = Field(
        default=None, ge=1, le=MAX_SHARDS,
        description=("How many shards the application's servers are split into, the same in "
                     "every process; unset: one connection, no sharding."))
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = Field(
        default=None,
        description=("The shards this process serves, e.g. '0,1', '2-3' or '[4, 5]'; unset: "
                     "every shard of CITEBOT_SHARD_COUNT. Processes must not share a shard."))

    @field_validator("fetch_allow_networks", "fetch_allow_ports", mode="before")
    @classmethod
    def _parse_list(cls, value: Any) -> Any:
        return parse_list(value)

    @field_validator("fetch_allow_networks")
    @classmethod
    def _check_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return checks.check_networks(value)

    @field_validator("database_url", "database_read_url", mode="before")
    @classmethod
    def _check_database_url(cls, value: Any) -> Any:
        return checks.check_database_url(value)

    @field_validator("metrics_address")
    @classmethod
    def _check_metrics_address(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            parse_address(value)
            return value.strip()
        return None

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _parse_shard_ids(cls, value: Any) -> Any:
        return parse_shard_ids(value) if isinstance(value, str) else value

    @field_validator("shard_ids")
    @classmethod
    def _check_shard_ids(cls, value: tuple[int, ...] | None,
                         info: ValidationInfo) -> tuple[int, ...] | None:
        if value is None or "shard_count" not in info.data:  # no count, or a refused one
            return value
        return checks.check_shard_ids(value, info.data["shard_count"])

    @property
    def metrics_endpoint(self) -> tuple[str, int] | None:
        """(host, port) of the health and metrics endpoint, or None when it is off."""
        return parse_address(self.metrics_address) if self.metrics_address else None

    @property
    def sharded(self) -> bool:
        """Whether `citebot run` uses discord.py's sharded client."""
        return self.shard_count is not None

    @property
    def served_shards(self) -> tuple[int, ...]:
        """The shards this process serves (shard 0 alone when not sharded)."""
        if self.shard_count is None:
            return (0,)
        return self.shard_ids or tuple(range(self.shard_count))

    def serves_guild(self, guild_id: int) -> bool:
        """Whether this process's shards hold that server (Discord's rule: shard =
        (guild_id >> 22) % shard_count)."""
        return self.shard_count is None or (guild_id >> 22) % self.shard_count in self.served_shards

    @property
    def leads(self) -> bool:
        """Whether this process does the once-per-application work (command sync, feeds of
        command-line collections, retention): the one serving shard 0."""
        return 0 in self.served_shards

    @classmethod
    def describe(cls, error: ValidationError | SettingsError) -> str:
        """A refused setting as a person fixes it, on one line: the variable's name, what is
        wrong and an example (never the value given, which may be a secret)."""
        return checks.describe(error, cls.model_fields, cls.example)

    @classmethod
    def example(cls, field: str) -> str:
        """A value of the setting as written in the environment (its default if it has one)."""
        default = cls.model_fields[field].default if field in cls.model_fields else None
        return checks.example(field, default)

    @property
    def model_cache(self) -> Path:
        """Where exported ONNX models are kept (the data directory's ``models`` only for a
        user without a home directory)."""
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def db_path(self) -> Path:
        """The SQLite database, the source of truth."""
        return self.data_dir / "citebot.sqlite3"
