"""Long answers on Slack: streamed or posted, every character reaches the thread, each message
within the limits the stand-in enforces as Slack does (12,000 characters a streamed message,
50 blocks, 3,000 a section, 10 elements a context block)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.container import Helpbot
from tests.standins.openai_server import OpenAIStandIn
from tests.standins.slack_server import SlackStandIn
from tests.support import generative
from tests.test_slack_bot import CHANNEL, running

# About 45,000 characters, citing twenty sources.
POINTS = 900
REPLY = " ".join(
    f"Point {i}: data is kept in object storage & S3 [{i % 20 + 1}]." for i in range(POINTS)
)


@pytest.fixture
async def llm() -> AsyncIterator[OpenAIStandIn]:
    async with OpenAIStandIn() as server:
        server.default_reply = REPLY
        yield server


def shown(slack: SlackStandIn, thread_ts: str) -> str:
    """What the bot's messages in the thread show, in order, whitespace collapsed: each
    message's text, then its blocks' text."""
    parts = []
    for item in slack.thread(CHANNEL, thread_ts)[1:]:
        parts.append(item.get("text", ""))
        for block in item.get("blocks", []):
            texts = [block.get("text") or {}, *block.get("elements", [])]
            parts += [str(text.get("text", "")) for text in texts if isinstance(text, dict)]
    return " ".join(" ".join(parts).split())


def missing_points(slack: SlackStandIn, thread_ts: str) -> list[int]:
    text = shown(slack, thread_ts)
    return [i for i in range(POINTS) if f"Point {i}: " not in text]


def context_blocks(slack: SlackStandIn, thread_ts: str) -> list[dict[str, Any]]:
    return [
        block
        for item in slack.thread(CHANNEL, thread_ts)[1:]
        for block in item.get("blocks", [])
        if block["type"] == "context"
    ]


async def test_a_long_streamed_answer_continues_in_new_messages_and_loses_nothing(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    service = generative(faq_bot, llm, top_k=20, relevance_threshold=0.0)
    async with SlackStandIn() as slack, running(slack, service, tmp_path) as harness:
        ts, _ = await harness.mention()
        await slack.wait_until(
            lambda: any(c.params.get("blocks") for c in slack.calls_to("chat.stopStream")),
            timeout=60,
            what="the stream that ends with the sources",
        )
    assert [r for r in slack.refusals if r[0] != "reactions.add"] == []
    assert missing_points(slack, ts) == []
    replies = slack.thread(CHANNEL, ts)[1:]
    assert len(replies) >= 4  # 45,000 characters need at least four streamed messages
    assert all(len(item["text"]) <= 12_000 for item in replies)
    assert "&amp; S3" in shown(slack, ts) and " & S3" not in shown(slack, ts)
    contexts = context_blocks(slack, ts)
    assert sum(len(block["elements"]) for block in contexts) == 20
    assert all(len(block["elements"]) <= 10 for block in contexts)


async def test_a_long_posted_answer_is_split_over_messages_and_loses_nothing(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    """Where streaming is refused, the answer is posted then updated: past the first
    message's share (and past what 50 blocks hold) it continues in the next message."""
    service = generative(faq_bot, llm, top_k=20, relevance_threshold=0.0)
    async with (
        SlackStandIn(streaming_available=False) as slack,
        running(slack, service, tmp_path) as harness,
    ):
        ts, _ = await harness.mention()
        await slack.wait_until(
            lambda: any(
                "helpbot_vote_up" in json.dumps(item.get("blocks", []))
                for item in slack.thread(CHANNEL, ts)
            ),
            timeout=60,
            what="the message with the vote buttons",
        )
    assert [r for r in slack.refusals if r[0] not in ("reactions.add", "chat.startStream")] == []
    assert missing_points(slack, ts) == []
    assert len(slack.thread(CHANNEL, ts)[1:]) >= 4
    assert all(len(block["elements"]) <= 10 for block in context_blocks(slack, ts))


async def test_a_stream_that_fails_midway_is_posted_again_in_full(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    """Slack ends a stream it considers idle (message_not_in_streaming_state): the text
    streamed so far is posted again in a new message, which then takes the rest."""
    reply = " ".join(f"Step {i} of the answer." for i in range(60))
    llm.reply_with(reply)
    llm.delta_interval_s = 0.02
    async with SlackStandIn() as slack:
        slack.fail_with("chat.appendStream", error="message_not_in_streaming_state", times=50)
        async with running(slack, generative(faq_bot, llm), tmp_path) as harness:
            ts, _ = await harness.mention()
            await slack.wait_until(
                lambda: any(
                    "helpbot_vote_up" in json.dumps(item.get("blocks", []))
                    for item in slack.thread(CHANNEL, ts)
                ),
                timeout=30,
                what="the posted answer with its votes",
            )
    [start] = slack.calls_to("chat.startStream")
    [post] = slack.calls_to("chat.postMessage")
    first_streamed = json.dumps(start.params.get("chunks") or start.params.get("markdown_text"))
    assert "Step 0 of" in first_streamed  # the stream had begun
    assert post.params["text"].startswith("Step 0 of the answer.")  # posted again, in full
    final = slack.thread(CHANNEL, ts)[-1]
    assert all(f"Step {i} of the answer." in json.dumps(final) for i in range(60))
