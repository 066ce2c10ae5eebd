"""Which knowledge bases a Discord question may search: none outside the allowed guilds and
channels (DISCORD_ALLOWED_*, DISCORD_ALLOW_DMS), else the routing file's rule. The one access
decision of the Discord adapter."""

from __future__ import annotations

import discord

from bots.discord.settings import DiscordSettings
from core import Place, Routing

__all__ = ["DiscordAccess"]


class DiscordAccess:
    """The scope of a question from a guild, channel or DM."""

    def __init__(self, settings: DiscordSettings, routing: Routing) -> None:
        self._settings = settings
        self._routing = routing

    def use_routing(self, routing: Routing) -> None:
        """Apply a reloaded routing file to the next question."""
        self._routing = routing

    def scope(
        self, guild_id: int | None, channel: object, channel_id: int | None
    ) -> tuple[str, ...]:
        """The knowledge bases a question here may search; () where the bot is not enabled.
        A thread follows its channel, in the allow list as in routing."""
        if isinstance(channel, discord.Thread):
            channel_id = channel.parent_id
        if not self._allowed(guild_id, channel_id):
            return ()
        place = Place("discord", _id(channel_id), _id(guild_id), direct=guild_id is None)
        return self._routing.scope(place)

    def _allowed(self, guild_id: int | None, channel_id: int | None) -> bool:
        settings = self._settings
        if guild_id is None:
            return settings.discord_allow_dms
        if settings.discord_allowed_guilds and guild_id not in settings.discord_allowed_guilds:
            return False
        return not settings.discord_allowed_channels or (
            channel_id in settings.discord_allowed_channels
        )


def _id(value: int | None) -> str | None:
    return str(value) if value is not None else None
