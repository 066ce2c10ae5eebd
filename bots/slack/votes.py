"""👍 / 👎 on a Slack answer, and the optional reason a 👎 is asked for (wrong, outdated, not
what was asked, other): the voter picks one from buttons only they see."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bots.ops.metrics import Metrics
from bots.slack.format import FEEDBACK_BLOCK, VOTE_DOWN, VOTE_UP
from core import DOWN_REASONS, AnswerLog, Vote, message

__all__ = ["SlackVotes"]

_REASON_PREFIX = "helpbot_vote_reason_"
_REASON_BLOCK = "helpbot_reasons"
_REASON = re.compile(rf"^{_REASON_PREFIX}({'|'.join(DOWN_REASONS)})$")


class SlackVotes:
    """The vote listeners of one Slack app."""

    def __init__(self, client: AsyncWebClient, answer_log: AnswerLog, metrics: Metrics) -> None:
        self._client = client
        self._answer_log = answer_log
        self._metrics = metrics

    def register(self, app: AsyncApp) -> None:
        app.action(VOTE_UP)(self._on_vote)
        app.action(VOTE_DOWN)(self._on_vote)
        app.action(_REASON)(self._on_reason)

    async def _on_vote(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        vote: Vote = "up" if action["action_id"] == VOTE_UP else "down"
        user = body["user"]["id"]
        lang = _language(action)
        recorded = await self._answer_log.vote(action["value"], user, vote)
        if recorded:
            self._metrics.vote("slack", vote)
        if not recorded:
            await self._tell(body, message("vote_unknown", lang))
        elif vote == "up":
            await self._tell(body, message("vote_up", lang))
        else:
            blocks = _reason_blocks(action["value"], lang)
            await self._tell(body, message("down_reason_prompt", lang), blocks)

    async def _on_reason(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        """A reason completes the 👎 (the same person's vote, replaced with its reason)."""
        await ack()
        found = _REASON.match(action["action_id"])
        reason = found.group(1) if found else "other"
        if await self._answer_log.vote(action["value"], body["user"]["id"], "down", reason):
            await self._tell(body, message("reason_thanks", _language(action)))

    async def _tell(
        self, body: dict[str, Any], text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        """An ephemeral note to the voter, in the thread of the message they voted on."""
        channel = (body.get("channel") or {}).get("id")
        if not channel:
            return
        container = body.get("container") or {}
        await self._client.chat_postEphemeral(
            channel=channel,
            user=body["user"]["id"],
            thread_ts=container.get("thread_ts") or container.get("message_ts"),
            text=text,
            blocks=blocks,
        )


def _reason_blocks(answer_id: str, lang: str) -> list[dict[str, Any]]:
    prompt = message("down_reason_prompt", lang)
    return [
        {"type": "section", "text": {"type": "plain_text", "text": prompt}},
        {
            "type": "actions",
            "block_id": f"{_REASON_BLOCK}:{lang}",
            "elements": [
                {
                    "type": "button",
                    "action_id": f"{_REASON_PREFIX}{reason}",
                    "text": {"type": "plain_text", "text": message(f"reason_{reason}", lang)},
                    "value": answer_id,
                }
                for reason in DOWN_REASONS
            ],
        },
    ]


def _language(action: dict[str, Any]) -> str:
    """The answer's language, from the block id the buttons were sent with (English for
    buttons sent before the block id carried it)."""
    block, _, lang = str(action.get("block_id", "")).partition(":")
    return lang if block in (FEEDBACK_BLOCK, _REASON_BLOCK) and lang else "en"
