"""A Slack bot on its HTTP port, wired to the stand-ins with the suite's fake secrets."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic_settings import BaseSettings

from bots.discord.client import DiscordBot
from bots.discord.settings import DiscordSettings
from bots.slack.app import SlackBot
from bots.slack.settings import SlackSettings
from core.answering.service import RagService
from core.learning.sqlite_answer_log import SqliteAnswerLog
from tests.reliability.fake_secrets import SECRETS
from tests.standins import slack_payloads as payloads
from tests.standins.discord_payloads import GUILD_ID
from tests.standins.discord_server import DiscordStandIn
from tests.standins.slack_server import SlackStandIn
from tests.support import post_event

S = TypeVar("S", bound=BaseSettings)

QUESTION = "How is data stored in milvus?"
ANSWER_METHODS = ("chat.startStream", "chat.postMessage", "chat.postEphemeral")


def settings_with_secrets(settings_class: type[S], **values: object) -> S:
    """Settings of any class, with every fake secret the class has a field for."""
    return settings_class(_env_file=None, **{**SECRETS, **values})  # type: ignore[arg-type]


@dataclass
class HttpSlack:
    slack: SlackStandIn
    base: str
    bot: SlackBot

    async def post(
        self, body: bytes, headers: dict[str, str], content_type: str = "application/json"
    ) -> int:
        return await post_event(self.base, body, headers, content_type)

    async def reply_in(self, channel: str) -> str:
        """Wait for the reply in `channel`: "answer" when an answer stream ended there, else
        the text of the message posted instead (an apology)."""
        await self.slack.wait_until(
            lambda: any(
                call.params.get("channel") == channel
                for call in self.slack.calls
                if call.method in ("chat.stopStream", "chat.postMessage")
            ),
            timeout=60,
            what=f"a reply in {channel}",
        )
        posts = [call for call in self.slack.calls if call.params.get("channel") == channel]
        if any(call.method == "chat.stopStream" for call in posts):
            return "answer"
        return str(next(c for c in posts if c.method == "chat.postMessage").params["text"])

    def answers(self, channel: str | None = None) -> list[Any]:
        """Replies posted (streams started, messages, ephemerals), in one channel or all."""
        return [
            call
            for call in self.slack.calls
            if call.method in ANSWER_METHODS
            and (channel is None or call.params.get("channel") == channel)
        ]


def mention_body(ts: str, channel: str = "C0REL", text: str = QUESTION, **fields: Any) -> bytes:
    return json.dumps(
        payloads.app_mention(f"<@U0BOT> {text}", channel=channel, user="U0ASK", ts=ts, **fields)
    ).encode()


def signed(body: bytes, timestamp: int | None = None, **retry: Any) -> dict[str, str]:
    return payloads.signed_headers(body, SECRETS["slack_signing_secret"], timestamp, **retry)


@contextlib.asynccontextmanager
async def http_slack(
    service: RagService, tmp_path: Path, sent: list[Any], **overrides: object
) -> AsyncIterator[HttpSlack]:
    """The bot on a free port; on exit its Slack calls join `sent` for the secrets case."""
    async with SlackStandIn() as slack:
        feedback = SqliteAnswerLog(tmp_path / "feedback.sqlite")
        await feedback.start()
        bot = SlackBot(
            settings_with_secrets(
                SlackSettings,
                slack_api_url=slack.api_url,
                # No fair limits: a case asks again and again as one user in one channel.
                **{"slack_cooldown_s": 0, "slack_channel_questions_per_minute": 0, **overrides},
            ),
            service,
            feedback,
        )
        port = await bot.start_http("127.0.0.1", 0)
        try:
            yield HttpSlack(slack, f"http://127.0.0.1:{port}", bot)
        finally:
            await bot.stop()
            await feedback.stop()
            sent.extend(call.params for call in slack.calls)


@contextlib.asynccontextmanager
async def discord_api(sent: list[Any]) -> AsyncIterator[DiscordStandIn]:
    """The Discord stand-in with the suite's bot token, patched into discord.py; on exit its
    calls join `sent` for the secrets case."""
    async with DiscordStandIn(token=SECRETS["discord_token"]) as api:
        with api.patch_discord():
            try:
                yield api
            finally:
                sent.extend(call.json for call in api.calls)


@contextlib.asynccontextmanager
async def discord_bot(
    api: DiscordStandIn, service: RagService, tmp_path: Path
) -> AsyncIterator[DiscordBot]:
    """A DiscordBot logged in to the stand-in (no fair limits), with a feedback file."""
    feedback = SqliteAnswerLog(tmp_path / "discord-feedback.sqlite")
    await feedback.start()
    settings = settings_with_secrets(
        DiscordSettings,
        discord_guild_id=int(GUILD_ID),
        discord_cooldown_s=0,
        discord_channel_questions_per_minute=0,
    )
    client = DiscordBot(settings, service, feedback, guild_ready_timeout=0.01)
    try:
        async with api.running(client, token=SECRETS["discord_token"]):
            yield client
    finally:
        await feedback.stop()
