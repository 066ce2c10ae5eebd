"""A Slack bot on its HTTP port, wired to the stand-ins with the suite's fake secrets."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from fake_secrets import SECRETS

from bots.slack_bot import SlackBot
from core.feedback import FeedbackStore
from core.service import RagService
from core.settings import Settings
from standins import slack_payloads as payloads
from standins.slack_server import SlackStandIn

QUESTION = "How is data stored in milvus?"
ANSWER_METHODS = ("chat.startStream", "chat.postMessage", "chat.postEphemeral")


def settings_with_secrets(**values: object) -> Settings:
    return Settings(_env_file=None, **{**SECRETS, **values})  # type: ignore[arg-type]


@dataclass
class HttpSlack:
    slack: SlackStandIn
    base: str
    bot: SlackBot

    async def post(
        self, body: bytes, headers: dict[str, str], content_type: str = "application/json"
    ) -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.base}/slack/events",
                data=body,
                headers={"Content-Type": content_type, **headers},
            ) as response,
        ):
            await response.read()
            return response.status

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
        feedback = FeedbackStore(tmp_path / "feedback.sqlite")
        await feedback.start()
        bot = SlackBot(
            settings_with_secrets(slack_api_url=slack.api_url, **overrides), service, feedback
        )
        port = await bot.start_http("127.0.0.1", 0)
        try:
            yield HttpSlack(slack, f"http://127.0.0.1:{port}", bot)
        finally:
            await bot.stop()
            await feedback.stop()
            sent.extend(call.params for call in slack.calls)
