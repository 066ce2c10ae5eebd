"""The Slack adapter's settings: tokens, the transport's secrets and its behaviour in channels."""

from __future__ import annotations

from typing import Annotated

from pydantic import SecretStr
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
    # Prometheus /metrics also on the public Slack HTTP port (`helpbot slack --http`); off, it
    # is served on the health port only (HEALTH_PORT, loopback by default).
    slack_http_metrics: bool = False
    slack_suggested_prompts: Annotated[tuple[str, ...], NoDecode, separated("|")] = (
        "How do I get started?",
        "Where do I find the troubleshooting guide?",
    )
