"""What the learning loop posts on Discord: the digest in its channel, and a notice replying to
the question of an answer whose cited section changed. Nobody is ever pinged."""

from __future__ import annotations

from typing import Any

import discord

from bots.discord.format import NO_MENTIONS, content_pieces, safe
from bots.learning import post_parts, stale_section
from core import AnswerRecord, message

__all__ = ["DiscordPoster"]


class DiscordPoster:
    """Posts through a logged-in client (the running bot, or one `helpbot digest` logs in)."""

    platform = "discord"

    def __init__(self, client: discord.Client, digest_channel: str | None) -> None:
        self._client = client
        self.digest_channel = digest_channel

    async def post_digest(self, text: str) -> bool:
        if not self.digest_channel:
            return False
        channel = await self._channel(self.digest_channel)

        async def send(piece: str) -> object:
            return await channel.send(piece, allowed_mentions=NO_MENTIONS, suppress_embeds=True)

        return await post_parts(content_pieces(text), send, self.platform)

    async def post_notice(self, record: AnswerRecord) -> None:
        section, url = stale_section(record)
        link = f": <{url}>" if url else ""
        text = message("stale_notice", record.language, section=safe(section), link=link)
        channel = await self._channel(record.channel or "")
        question = discord.MessageReference(
            message_id=int(record.thread or 0),
            channel_id=int(record.channel or 0),
            fail_if_not_exists=False,
        )
        await channel.send(text, reference=question, allowed_mentions=NO_MENTIONS)

    async def _channel(self, channel_id: str) -> Any:
        return self._client.get_channel(int(channel_id)) or await self._client.fetch_channel(
            int(channel_id)
        )
