"""The Discord adapter's settings: the bot token, where it answers and how often."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode

from core import SETTINGS_CONFIG, separated

__all__ = ["DiscordSettings"]


class DiscordSettings(BaseSettings):
    """The bot token and its behaviour; `.env.example` documents each field."""

    model_config = SETTINGS_CONFIG

    discord_token: SecretStr | None = None
    # Syncs /ask to one guild at once (development); otherwise commands sync globally.
    discord_guild_id: int | None = None
    discord_allowed_guilds: Annotated[tuple[int, ...], NoDecode, separated(",")] = ()
    discord_allowed_channels: Annotated[tuple[int, ...], NoDecode, separated(",")] = ()
    discord_allow_dms: bool = True
    discord_answer_in_thread: bool = False
    discord_message_content_intent: bool = False
    discord_cooldown_s: float = Field(default=10.0, ge=0)
    # Questions a minute one channel may ask (shared through Redis); 0 turns it off.
    discord_channel_questions_per_minute: int = Field(default=20, ge=0)
    # `helpbot serve` posts the digest (DIGEST_EVERY) in this channel (its id).
    digest_discord_channel: str | None = None
