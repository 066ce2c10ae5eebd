"""What the learning loop posts on Slack: the digest in its channel, and a notice in the thread
of an answer whose cited section changed."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bots.learning import post_parts, stale_section
from bots.slack.format import MESSAGE_CHARS, escape, message_parts
from core import AnswerRecord, message

__all__ = ["SlackPoster"]


class SlackPoster:
    """Posts as the bot; text is escaped (questions in a digest are users' words)."""

    platform = "slack"

    def __init__(self, client: AsyncWebClient, digest_channel: str | None) -> None:
        self._client = client
        self.digest_channel = digest_channel

    async def post_digest(self, text: str) -> bool:
        if not self.digest_channel:
            return False
        channel = self.digest_channel

        async def send(part: str) -> object:
            return await self._client.chat_postMessage(
                channel=channel, text=part, unfurl_links=False, unfurl_media=False
            )

        return await post_parts(message_parts(escape(text), MESSAGE_CHARS), send, self.platform)

    async def post_notice(self, record: AnswerRecord) -> None:
        section, url = stale_section(record)
        link = f": <{escape(url)}>" if url else ""
        text = message("stale_notice", record.language, section=escape(section), link=link)
        await self._client.chat_postMessage(
            channel=record.channel or "", thread_ts=record.thread, text=text, unfurl_links=False
        )
