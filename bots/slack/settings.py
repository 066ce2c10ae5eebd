"""The Slack adapter's settings: tokens, the transport's secrets and its behaviour in channels."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode

from core import SETTINGS_CONFIG, separated

__all__ = ["SlackSettings"]


class SlackSettings(BaseSettings):
    """Socket Mode needs the bot and app tokens, HTTP mode the bot token and signing secret;
    `.env.example` documents each field."""

    model_config = SETTINGS_CONFIG

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    # Overrides the Web API base URL (GovSlack, proxies).
    slack_api_url: str | None = None
    slack_allowed_channels: Annotated[tuple[str, ...], NoDecode, separated(",")] = ()
    slack_thread_followups: bool = True
    # Days the bot remembers a thread it answered in (replies there are follow-ups) and an
    # assistant panel's context; in Redis with REDIS_URL, else in this process.
    thread_memory_days: float = Field(default=7.0, gt=0)
    # `helpbot serve` posts the digest (DIGEST_EVERY) in this channel (its id, C...).
    digest_slack_channel: str | None = None
    # Prometheus /metrics also on the public Slack HTTP port (`helpbot slack --http`); off, it
    # is served on the health port only (HEALTH_PORT, loopback by default).
    slack_http_metrics: bool = False
    # Fair limits: seconds a user waits between questions, and questions a minute one channel
    # may ask; 0 turns either off.
    slack_cooldown_s: float = Field(default=10.0, ge=0)
    slack_channel_questions_per_minute: int = Field(default=20, ge=0)
    slack_suggested_prompts: Annotated[tuple[str, ...], NoDecode, separated("|")] = (
        "How do I get started?",
        "Where do I find the troubleshooting guide?",
    )
