"""citebot's settings: one object, built once at start-up and passed down.

Every value can be set from the environment with the ``CITEBOT_`` prefix (``CITEBOT_DATA_DIR``,
``CITEBOT_MODEL``, ...) or from a ``.env`` file in the working directory. Nothing else in the
project reads environment variables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"
Port = Annotated[int, Field(ge=1, le=65_535)]


class Settings(BaseSettings):
    """Configuration of the indexer, the retrieval and the interfaces."""

    model_config = SettingsConfigDict(
        env_prefix="CITEBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("citebot-data"), description="Where SQLite and the vector indexes live."
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
        default=None, description="Where ONNX exports of the model are kept (DATA_DIR/models)."
    )
    embed_batch_size: int = Field(default=64, ge=1)
    approximate_threshold: int = Field(
        default=50_000,
        ge=0,
        description=(
            "Above this many vectors a collection uses an approximate index (IVF with 8-bit "
            "scalar quantisation, re-scored exactly)."),
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
    min_score: float = Field(
        default=0.40,
        description=("Learned probability that the best sentence answers, below which citebot "
                     "says it has no answer (calibrated in docs/EVALUATION.md)."),
    )

    # Getting articles in
    max_article_bytes: int = Field(default=5_000_000, ge=1_000)
    max_article_paragraphs: int = Field(
        default=1_000, ge=1,
        description=("Paragraphs one article may have: each is split into sentences and "
                     "embedded, so this bounds the work of one add (bytes alone do not)."))
    max_article_words: int = Field(
        default=20_000, ge=100,
        description="Words one article may have (a long read is 5,000-10,000).")
    fetch_timeout_s: float = Field(default=20.0, gt=0)
    extract_timeout_s: float = Field(default=30.0, gt=0)
    fetch_allow_networks: tuple[str, ...] = Field(
        default=(),
        description=(
            "CIDRs that may be fetched although private (self-hosting). Loopback is opened "
            "only by an entry inside 127.0.0.0/8 or equal to ::1/128 (e.g. '127.0.0.1/32'), "
            "never by a broader one such as '0.0.0.0/0' or '::/0'; cloud metadata, link-local "
            "(169.254.0.0/16, fe80::/10) and 0.0.0.0/8 are never fetched; an IPv6 range does "
            "not open the IPv4 addresses carried inside it (mapped, NAT64, 6to4, Teredo)."),
    )
    fetch_allow_ports: tuple[Port, ...] = Field(
        default=(80, 443),
        description=(
            "Ports that may be fetched, a JSON list like '[80, 443, 8080]' (self-hosted feeds "
            "and pages on other ports)."),
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

    # Discord
    discord_token: SecretStr | None = None
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    discord_message_content: bool = Field(
        default=False,
        description=("Ask Discord for the privileged Message Content intent, which watched "
                     "channels need (enable it in the developer portal first)."))
    dev_guild_id: int | None = None
    ask_cooldown_s: float = Field(default=5.0, ge=0)
    add_quota_per_hour: int = Field(default=30, ge=1)
    shutdown_grace_s: float = Field(default=20.0, ge=0)

    @property
    def model_cache(self) -> Path:
        """Where exported ONNX models are kept."""
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def db_path(self) -> Path:
        """The SQLite database, the source of truth."""
        return self.data_dir / "citebot.sqlite3"
