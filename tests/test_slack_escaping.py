"""Text from models, documents and askers never pings or disguises a link on Slack, on every
path an answer takes: `/ask` in the channel or through its response_url, and the
post-then-update path of workspaces without streaming."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.container import Helpbot
from tests.standins import slack_payloads as payloads
from tests.standins.openai_server import OpenAIStandIn
from tests.standins.slack_server import SlackStandIn
from tests.support import generative
from tests.test_slack_bot import CHANNEL, USER, running

HOSTILE = "<!channel> <!here> <@U0BOSS> <!subteam^S1> a & b <https://evil.example|the docs>"
RAW = ("<!channel>", "<!here>", "<@U0BOSS>", "<!subteam", "<https://evil")


@pytest.fixture
async def llm() -> AsyncIterator[OpenAIStandIn]:
    async with OpenAIStandIn() as server:
        server.default_reply = f"Data lives in object storage [1]. {HOSTILE}"
        yield server


def sent(calls: list[Any]) -> str:
    return json.dumps([call.params for call in calls])


def assert_escaped(shown: str) -> None:
    assert [raw for raw in RAW if raw in shown] == []
    assert "&lt;!channel&gt;" in shown and "a &amp; b" in shown


async def test_ask_in_the_channel_escapes_the_answer_and_the_quoted_question(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    async with (
        SlackStandIn() as slack,
        running(slack, generative(faq_bot, llm), tmp_path),
    ):
        question = f"How is data stored in milvus? {HOSTILE}"
        await slack.push(
            "slash_commands", payloads.slash_command("/ask", question, channel=CHANNEL, user=USER)
        )
        await slack.wait_for("chat.postMessage", timeout=10)
    shown = sent(slack.calls_to("chat.postMessage"))
    assert_escaped(shown)
    assert f"<@{USER}> asked:" in shown  # the bot's own mention of the asker stays a mention


async def test_ask_through_response_url_escapes_the_answer(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    async with (
        SlackStandIn() as slack,
        running(slack, generative(faq_bot, llm), tmp_path),
    ):
        slack.fail_with("chat.postMessage", error="not_in_channel")
        command = payloads.slash_command(
            "/ask",
            f"How is data stored in milvus? {HOSTILE}",
            channel="C0NOTIN",
            user=USER,
            response_url=slack.new_response_url(),
        )
        await slack.push("slash_commands", command)
        await slack.wait_for("response_url", timeout=10)
    assert_escaped(sent(slack.calls_to("response_url")))


async def test_posted_then_updated_answers_are_escaped_at_every_step(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    llm.delta_interval_s = 0.3  # several updates before the final one
    async with (
        SlackStandIn(streaming_available=False) as slack,
        running(slack, generative(faq_bot, llm), tmp_path) as harness,
    ):
        await harness.mention()
        await slack.wait_until(
            lambda: any(c.params.get("blocks") for c in slack.calls_to("chat.update")),
            timeout=20,
            what="the final update",
        )
    updates = slack.calls_to("chat.update")
    assert len(updates) >= 2
    assert_escaped(sent(slack.calls_to("chat.postMessage") + updates))
    for call in slack.calls_to("chat.postMessage") + updates:
        assert [raw for raw in RAW if raw in json.dumps(call.params)] == []
