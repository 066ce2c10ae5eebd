"""The Slack adapter, driven through the real slack-bolt and slack_sdk against a local Slack
stand-in, over Socket Mode and HTTP, with the real core on the FAQ collection."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bots.cli import Listening, SlackCommand, run_slack
from bots.cli.running import HealthOptions
from bots.slack.app import SlackBot
from bots.slack.format import VOTE_UP
from bots.slack.settings import SlackSettings
from core import Routing, message
from core.answering.service import RagService
from core.container import Helpbot
from core.learning.sqlite_answer_log import SqliteAnswerLog
from core.settings import Settings
from tests.standins import slack_payloads as payloads
from tests.standins.openai_server import OpenAIStandIn
from tests.standins.slack_server import SlackStandIn
from tests.support import free_port, generative, http_get, post_event

CHANNEL, USER = "C0HELP", "U0ASKER"
SECRET = "signing-secret"
STORAGE_QUESTION = "<@U0BOT> How is data stored in milvus?"


class Harness:
    """A SlackBot wired to the stand-ins, with the handles tests assert on."""

    def __init__(self, slack: SlackStandIn, bot: SlackBot, feedback: SqliteAnswerLog) -> None:
        self.slack = slack
        self.bot = bot
        self.feedback = feedback
        self._ts = 1700000100.0

    def next_ts(self) -> str:
        self._ts += 1
        return f"{self._ts:.6f}"

    async def mention(self, text: str = STORAGE_QUESTION, **fields: Any) -> tuple[str, str]:
        ts = fields.pop("ts", None) or self.next_ts()
        body = payloads.app_mention(text, channel=CHANNEL, user=USER, ts=ts, **fields)
        return ts, await self.slack.push("events_api", body)

    def final_texts(self, thread_ts: str) -> list[str]:
        return [m.get("text", "") for m in self.slack.thread(CHANNEL, thread_ts)[1:]]


def slack_settings(slack: SlackStandIn, **overrides: object) -> SlackSettings:
    values: dict[str, object] = {
        "slack_bot_token": "xoxb-test",
        "slack_app_token": "xapp-1-test",
        "slack_signing_secret": SECRET,
        "slack_api_url": slack.api_url,
        # Tests ask quickly, often as one user in one channel; tests/test_slack_limits.py
        # turns the limits on.
        "slack_cooldown_s": 0,
        "slack_channel_questions_per_minute": 0,
    }
    values.update(overrides)
    return SlackSettings(_env_file=None, **values)  # type: ignore[arg-type]


async def start_harness(
    slack: SlackStandIn,
    service: RagService,
    tmp_path: Path,
    routing: Routing | None = None,
    **overrides: object,
) -> tuple[Harness, SlackBot]:
    feedback = SqliteAnswerLog(tmp_path / "feedback.sqlite")
    await feedback.start()
    bot = SlackBot(slack_settings(slack, **overrides), service, feedback, routing=routing)
    await bot.start_socket_mode()
    await slack.wait_connected()
    return Harness(slack, bot, feedback), bot


@pytest.fixture
async def llm() -> AsyncIterator[OpenAIStandIn]:
    async with OpenAIStandIn() as server:
        yield server


@asynccontextmanager
async def running(
    slack: SlackStandIn,
    service: RagService,
    tmp_path: Path,
    routing: Routing | None = None,
    **overrides: object,
) -> AsyncIterator[Harness]:
    """The bot on Socket Mode against `slack`; stopped, with its feedback store, on exit."""
    harness, bot = await start_harness(slack, service, tmp_path, routing, **overrides)
    try:
        yield harness
    finally:
        await bot.stop()
        await harness.feedback.stop()


@pytest.fixture
async def harness(faq_bot: Helpbot, tmp_path: Path) -> AsyncIterator[Harness]:
    """Socket Mode, extractive answers (no LLM), every channel allowed."""
    async with SlackStandIn() as slack, running(slack, faq_bot.service, tmp_path) as harness:
        yield harness


def streamed_text(slack: SlackStandIn, since: int = 0) -> str:
    """The text streamed to Slack, from the `since`-th API call on."""
    parts = []
    for call in slack.calls[since:]:
        if call.method in ("chat.startStream", "chat.appendStream", "chat.stopStream"):
            chunks = call.params.get("chunks") or []
            if isinstance(chunks, str):
                chunks = json.loads(chunks)
            parts += [c.get("text", "") for c in chunks]
            parts.append(call.params.get("markdown_text") or "")
    return "".join(parts)


def _json(value: Any) -> Any:
    """A JSON field as the stand-in recorded it (slack_sdk sends some as strings)."""
    return json.loads(value) if isinstance(value, str) else value


def context_texts(blocks: list[dict[str, Any]]) -> str:
    return " ".join(
        element["text"]
        for block in blocks
        if block["type"] == "context"
        for element in block["elements"]
    )


async def test_answer_lands_in_the_thread_with_its_sources(harness: Harness) -> None:
    ts, envelope = await harness.mention()
    await harness.slack.wait_for_ack(envelope)
    [stop] = await harness.slack.wait_for("chat.stopStream")
    [start] = harness.slack.calls_to("chat.startStream")
    assert start.params["thread_ts"] == ts and start.params["channel"] == CHANNEL
    assert (start.params["recipient_user_id"], start.params["recipient_team_id"]) == (
        USER,
        "T0TEAM",
    )
    blocks = _json(stop.params["blocks"])
    assert "Where does Milvus store data?" in context_texts(blocks)
    assert blocks[-1]["type"] == "actions"
    assert "Where does Milvus store data?" in streamed_text(harness.slack)
    [reaction] = harness.slack.calls_to("reactions.add")
    assert reaction.params["timestamp"] == ts


async def test_a_slow_models_short_answer_still_appears_about_once_a_second(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    """A local model on a CPU streams a few words at a time; an answer shorter than the
    stream buffer must not sit in it until the end. It shows up piece by piece, but never
    more often than once a second (Slack's update rate)."""
    reply = (
        "Milvus keeps inserted data in object storage such as MinIO or S3, its metadata "
        "in etcd, and the log of changes in Pulsar or Kafka, so a node can fail without "
        "losing anything [1]."
    )
    llm.reply_with(reply)
    llm.delta_interval_s = 0.3
    async with (
        SlackStandIn() as slack,
        running(slack, generative(faq_bot, llm), tmp_path) as harness,
    ):
        await harness.mention()
        await slack.wait_for("chat.stopStream", timeout=20)
    appends = slack.calls_to("chat.appendStream")
    assert len(appends) >= 2
    flushes = [call.at for call in slack.calls_to("chat.startStream") + appends]
    assert all(later - earlier >= 0.9 for earlier, later in pairwise(flushes))
    assert reply in streamed_text(slack)


async def test_event_is_acknowledged_before_the_llm_releases_its_first_token(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    llm.reply_with("Milvus keeps inserted data in object storage such as MinIO or S3 [1].")
    llm.hang(0.5)  # the first token is held back until well after any ack
    async with (
        SlackStandIn() as slack,
        running(slack, generative(faq_bot, llm), tmp_path) as harness,
    ):
        _, envelope = await harness.mention()
        await slack.wait_for_ack(envelope)
        await slack.wait_for("chat.stopStream", timeout=10)
    timeline = slack.timeline
    assert timeline.index(f"ack:{envelope}") < timeline.index("call:chat.startStream")
    assert "object storage" in streamed_text(slack)


async def test_retries_and_double_deliveries_are_answered_once(harness: Harness) -> None:
    ts, envelope = await harness.mention()
    await harness.slack.redeliver(envelope)  # Socket Mode retry: same event id
    await harness.slack.redeliver(envelope)
    # The same message also arrives as a plain channel message event.
    await harness.slack.push(
        "events_api",
        payloads.thread_reply(STORAGE_QUESTION, channel=CHANNEL, user=USER, ts=ts, thread_ts=ts),
    )
    await harness.slack.wait_for("chat.stopStream")
    await harness.mention("<@U0BOT> What is the maximum vector dimension?")
    await harness.slack.wait_for("chat.stopStream", count=2)
    assert len(harness.slack.calls_to("chat.startStream")) == 2


async def test_direct_message_is_answered_in_the_dm(harness: Harness) -> None:
    ts = harness.next_ts()
    await harness.slack.push(
        "events_api",
        payloads.message_im("How is data stored in milvus?", channel="D0DM", user=USER, ts=ts),
    )
    [start] = await harness.slack.wait_for("chat.startStream")
    assert start.params["channel"] == "D0DM" and start.params["thread_ts"] == ts


async def test_own_and_other_bots_messages_are_ignored(harness: Harness) -> None:
    for bot_id in ("B0BOT", "B0OTHER"):
        await harness.slack.push(
            "events_api",
            payloads.bot_message(
                "How is data stored in milvus?",
                channel=CHANNEL,
                ts=harness.next_ts(),
                bot_id=bot_id,
            ),
        )
    ts, _ = await harness.mention()
    await harness.slack.wait_for("chat.stopStream")
    assert [c.params["thread_ts"] for c in harness.slack.calls_to("chat.startStream")] == [ts]


async def test_thread_follow_up_is_answered_without_a_mention_using_the_thread(
    harness: Harness,
) -> None:
    ts, _ = await harness.mention("<@U0BOT> Where does milvus keep my inserted data?")
    await harness.slack.wait_for("chat.stopStream")
    await harness.slack.push(
        "events_api",
        payloads.thread_reply(
            "and what about S3?", channel=CHANNEL, user=USER, ts=harness.next_ts(), thread_ts=ts
        ),
    )
    await harness.slack.wait_for("chat.stopStream", count=2)
    assert harness.slack.calls_to("conversations.replies")
    assert streamed_text(harness.slack).count("Where does Milvus store data?") >= 2


async def test_thread_reply_where_the_bot_never_answered_is_left_alone(harness: Harness) -> None:
    parent = harness.next_ts()
    harness.slack.seed_thread(CHANNEL, parent, [{"user": "U0OTHER", "text": "lunch?"}])
    await harness.slack.push(
        "events_api",
        payloads.thread_reply(
            "How is data stored in milvus?",
            channel=CHANNEL,
            user=USER,
            ts=harness.next_ts(),
            thread_ts=parent,
        ),
    )
    await harness.mention()  # a later mention proves the first event was processed
    await harness.slack.wait_for("chat.stopStream")
    assert len(harness.slack.calls_to("chat.startStream")) == 1


async def test_vote_buttons_record_feedback_with_the_answer(harness: Harness) -> None:
    ts, _ = await harness.mention()
    [stop] = await harness.slack.wait_for("chat.stopStream")
    blocks = _json(stop.params["blocks"])
    answer_id = blocks[-1]["elements"][0]["value"]
    await harness.slack.push(
        "interactive",
        payloads.block_actions(
            VOTE_UP,
            answer_id,
            channel=CHANNEL,
            user="U0VOTER",
            message_ts=stop.params["ts"],
            thread_ts=ts,
        ),
    )
    [thanks] = await harness.slack.wait_for("chat.postEphemeral")
    assert thanks.params["user"] == "U0VOTER"
    [record] = await harness.feedback.recent()
    assert (record.up, record.down) == (1, 0)
    assert record.question == "How is data stored in milvus?"
    assert any("Where does Milvus store data?" in s for s in record.sources)


async def test_question_the_docs_do_not_cover_gets_a_plain_dont_know(harness: Harness) -> None:
    await harness.mention("<@U0BOT> What is a good recipe for banana bread?")
    [stop] = await harness.slack.wait_for("chat.stopStream")
    blocks = _json(stop.params["blocks"])
    assert [b["type"] for b in blocks] == ["actions"]  # no sources
    assert "I don't know" in streamed_text(harness.slack)


async def test_channel_outside_the_allow_list_gets_only_an_ephemeral_note(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    async with (
        SlackStandIn() as slack,
        running(slack, faq_bot.service, tmp_path, slack_allowed_channels=("C0OTHER",)) as harness,
    ):
        await harness.mention()
        [note] = await slack.wait_for("chat.postEphemeral")
    assert "not enabled" in note.params["text"] and note.params["user"] == USER
    posting = {"chat.postMessage", "chat.startStream", "chat.update", "reactions.add"}
    assert not [c for c in slack.calls if c.method in posting]


async def test_llm_failure_gives_a_friendly_message_in_the_thread(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    llm.fail_with(500, times=2, retry_after=0.01)
    async with (
        SlackStandIn() as slack,
        running(slack, generative(faq_bot, llm), tmp_path) as harness,
    ):
        ts, _ = await harness.mention()
        [post] = await slack.wait_for("chat.postMessage", timeout=10)
    assert post.params["thread_ts"] == ts
    assert post.params["text"].startswith("Sorry, the language model did not answer")
    assert "Traceback" not in post.params["text"]


async def test_mentions_from_the_model_never_reach_the_channel(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    llm.reply_with("<!channel> <@U0BOSS> data lives in <https://evil.example|the docs> [1].")
    async with (
        SlackStandIn() as slack,
        running(slack, generative(faq_bot, llm), tmp_path) as harness,
    ):
        await harness.mention()
        await slack.wait_for("chat.stopStream", timeout=10)
    text = streamed_text(slack)
    assert "<!channel>" not in text and "<@U0BOSS>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text


async def test_without_streaming_the_answer_is_posted_then_updated(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    llm.reply_with("Inserted data goes to object storage such as MinIO or S3 [1]. " * 3)
    async with (
        SlackStandIn(streaming_available=False) as slack,
        running(slack, generative(faq_bot, llm), tmp_path) as harness,
    ):
        ts, _ = await harness.mention()
        await slack.wait_for("chat.update", timeout=10)
        await _until_final_update(slack)
    [post] = slack.calls_to("chat.postMessage")
    assert post.params["thread_ts"] == ts
    final = slack.calls_to("chat.update")[-1]
    blocks = _json(final.params["blocks"])
    assert "Where does Milvus store data?" in context_texts(blocks)
    assert "object storage" in final.params["text"]


async def _until_final_update(slack: SlackStandIn) -> None:
    """Wait for the chat.update that carries the blocks (sources and votes): the last one."""
    count = 1
    while True:
        calls = await slack.wait_for("chat.update", count=count, timeout=10)
        if calls[-1].params.get("blocks"):
            return
        count = len(calls) + 1


async def test_rate_limited_post_is_retried_and_nothing_is_lost(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    llm.reply_with("Object storage such as MinIO or S3 [1].")
    async with SlackStandIn(streaming_available=False) as slack:
        slack.fail_with("chat.postMessage", status=429, retry_after=0)
        async with running(slack, generative(faq_bot, llm), tmp_path) as harness:
            ts, _ = await harness.mention()
            await slack.wait_for("chat.postMessage", count=2, timeout=10)
            await _until_final_update(slack)
    assert "object storage" in harness.final_texts(ts)[-1].lower()


# --- HTTP mode ---------------------------------------------------------------------------


@pytest.fixture
async def http_bot(
    faq_bot: Helpbot, tmp_path: Path
) -> AsyncIterator[tuple[SlackStandIn, str, SqliteAnswerLog]]:
    async with SlackStandIn() as slack:
        feedback = SqliteAnswerLog(tmp_path / "feedback.sqlite")
        await feedback.start()
        bot = SlackBot(slack_settings(slack), faq_bot.service, feedback)
        port = await bot.start_http("127.0.0.1", 0)
        yield slack, f"http://127.0.0.1:{port}", feedback
        await bot.stop()
        await feedback.stop()


def mention_body(ts: str) -> bytes:
    return json.dumps(
        payloads.app_mention(STORAGE_QUESTION, channel=CHANNEL, user=USER, ts=ts)
    ).encode()


async def test_signed_http_event_is_answered_in_the_thread(http_bot) -> None:
    slack, base, _ = http_bot
    body = mention_body("1700000200.000001")
    assert await post_event(base, body, payloads.signed_headers(body, SECRET)) == 200
    [stop] = await slack.wait_for("chat.stopStream", timeout=10)
    blocks = _json(stop.params["blocks"])
    assert "Where does Milvus store data?" in context_texts(blocks)


@pytest.mark.parametrize(
    "forge",
    [
        lambda body: {},
        lambda body: payloads.signed_headers(body, "wrong-secret"),
        lambda body: payloads.signed_headers(body, SECRET, int(time.time()) - 301),
        lambda body: payloads.signed_headers(body + b" ", SECRET),
    ],
    ids=["unsigned", "wrong secret", "stale timestamp", "body changed"],
)
async def test_forged_or_stale_request_is_rejected_and_reaches_no_listener(http_bot, forge) -> None:
    slack, base, _ = http_bot
    body = mention_body("1700000300.000001")
    assert await post_event(base, body, forge(body)) == 401
    assert [c.method for c in slack.calls if c.method != "auth.test"] == []


async def test_health_endpoint_answers(http_bot) -> None:
    _, base, _ = http_bot
    async with aiohttp.ClientSession() as session, session.get(f"{base}/healthz") as response:
        assert response.status == 200 and (await response.json()) == {"status": "ok"}


async def test_ask_command_answers_in_the_channel_with_sources(harness: Harness) -> None:
    envelope = await harness.slack.push(
        "slash_commands",
        payloads.slash_command("/ask", "How is data stored in milvus?", channel=CHANNEL, user=USER),
    )
    await harness.slack.wait_for_ack(envelope)
    [post] = await harness.slack.wait_for("chat.postMessage")
    blocks = _json(post.params["blocks"])
    assert post.params["channel"] == CHANNEL
    assert "asked: How is data stored in milvus?" in context_texts(blocks[:1])
    assert "Where does Milvus store data?" in context_texts(blocks[1:])
    assert harness.slack.timeline.index(f"ack:{envelope}") < harness.slack.timeline.index(
        "call:chat.postMessage"
    )


async def test_an_answer_log_failure_after_an_ask_answer_adds_no_error_under_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the answer was posted is recorded after it is shown (for a later stale notice):
    if that fails, the asker sees the answer alone, and the log keeps one answered row."""

    tried = asyncio.Event()

    async def unavailable(answer_id: str, thread: str) -> None:
        tried.set()
        raise OSError("database is locked")

    monkeypatch.setattr(harness.feedback, "place_answer", unavailable)
    await harness.slack.push(
        "slash_commands",
        payloads.slash_command("/ask", "How is data stored in milvus?", channel=CHANNEL, user=USER),
    )
    [answer] = await harness.slack.wait_for("chat.postMessage")
    await asyncio.wait_for(tried.wait(), 10)
    await asyncio.sleep(0.5)  # an error message would follow at once (one post, no model)
    assert [c.params["text"] for c in harness.slack.calls_to("chat.postMessage")] == [
        answer.params["text"]
    ]
    assert [r.outcome for r in await harness.feedback.recent()] == ["answered"]


async def test_ask_private_answers_only_the_asker(harness: Harness) -> None:
    await harness.slack.push(
        "slash_commands",
        payloads.slash_command(
            "/ask", "private How is data stored in milvus?", channel=CHANNEL, user=USER
        ),
    )
    [note] = await harness.slack.wait_for("chat.postEphemeral")
    assert note.params["user"] == USER
    blocks = _json(note.params["blocks"])
    assert "Where does Milvus store data?" in context_texts(blocks)
    assert not harness.slack.calls_to("chat.postMessage")


async def test_answer_updates_are_throttled_without_streaming(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    reply = "Inserted data goes to object storage such as MinIO or S3 [1]. " * 20
    llm.reply_with(reply)
    async with (
        SlackStandIn(streaming_available=False) as slack,
        running(slack, generative(faq_bot, llm), tmp_path) as harness,
    ):
        await harness.mention()
        await _until_final_update(slack)
    deltas = len(reply.split()) // 3  # the stand-in streams about three words a delta
    updates = slack.calls_to("chat.update")
    assert len(updates) <= deltas // 4  # one edit per delta would hit Slack's rate limit
    assert updates[-1].params["text"].count("object storage") == 20


async def test_http_retry_of_the_same_event_is_answered_once(http_bot) -> None:
    slack, base, _ = http_bot
    body = mention_body("1700000400.000001")
    assert await post_event(base, body, payloads.signed_headers(body, SECRET)) == 200
    retry = payloads.signed_headers(body, SECRET, retry_num=1, retry_reason="http_timeout")
    assert await post_event(base, body, retry) == 200
    await slack.wait_for("chat.stopStream", timeout=10)
    assert len(slack.calls_to("chat.startStream")) == 1


async def test_vote_notes_are_in_the_language_of_the_answer(http_bot) -> None:
    """Slack echoes the buttons' block id with each click; it carries the answer's language."""
    slack, base, feedback = http_bot
    question = payloads.app_mention(
        "Milvusはデータをどこに保存しますか？", channel=CHANNEL, user=USER, ts="1700000550.000001"
    )
    body = json.dumps(question).encode()
    await post_event(base, body, payloads.signed_headers(body, SECRET))
    [stop] = await slack.wait_for("chat.stopStream", timeout=10)
    votes = _json(stop.params["blocks"])[-1]

    async def click(action_id: str, value: str, block_id: str) -> None:
        clicked = payloads.interaction_body(
            payloads.block_actions(
                action_id,
                value,
                channel=CHANNEL,
                user="U0V",
                message_ts=stop.params["ts"],
                thread_ts="1700000550.000001",
                block_id=block_id,
            )
        )
        signed = payloads.signed_headers(clicked, SECRET)
        assert await post_event(base, clicked, signed, "application/x-www-form-urlencoded") == 200

    await click("helpbot_vote_down", votes["elements"][1]["value"], votes["block_id"])
    [prompt] = await slack.wait_for("chat.postEphemeral")
    assert prompt.params["text"] == message("down_reason_prompt", "ja")
    reasons = _json(prompt.params["blocks"])[-1]
    assert [r["text"]["text"] for r in reasons["elements"]] == [
        message(f"reason_{reason}", "ja") for reason in ("wrong", "outdated", "not_asked", "other")
    ]
    wrong = reasons["elements"][0]
    await click(wrong["action_id"], wrong["value"], reasons["block_id"])
    thanks = (await slack.wait_for("chat.postEphemeral", count=2))[-1]
    assert thanks.params["text"] == message("reason_thanks", "ja")
    assert message("reason_thanks", "ja") != message("reason_thanks")
    [record] = await feedback.recent()
    assert record.down_reasons == ("wrong",)


async def test_http_vote_button_is_recorded(http_bot) -> None:
    slack, base, feedback = http_bot
    body = mention_body("1700000500.000001")
    await post_event(base, body, payloads.signed_headers(body, SECRET))
    [stop] = await slack.wait_for("chat.stopStream", timeout=10)
    blocks = _json(stop.params["blocks"])
    answer_id = blocks[-1]["elements"][1]["value"]
    click = payloads.interaction_body(
        payloads.block_actions(
            "helpbot_vote_down",
            answer_id,
            channel=CHANNEL,
            user="U0V",
            message_ts=stop.params["ts"],
            thread_ts="1700000500.000001",
        )
    )
    signed = payloads.signed_headers(click, SECRET)
    assert await post_event(base, click, signed, "application/x-www-form-urlencoded") == 200
    [prompt] = await slack.wait_for("chat.postEphemeral")
    assert prompt.params["user"] == "U0V"
    assert prompt.params["text"] == message("down_reason_prompt")
    reasons = [
        element
        for block in _json(prompt.params["blocks"])
        for element in block.get("elements", [])
        if element.get("type") == "button"
    ]
    assert [r["text"]["text"] for r in reasons] == [
        message(f"reason_{reason}") for reason in ("wrong", "outdated", "not_asked", "other")
    ]
    outdated = payloads.interaction_body(
        payloads.block_actions(
            reasons[1]["action_id"],
            reasons[1]["value"],
            channel=CHANNEL,
            user="U0V",
            message_ts=stop.params["ts"],
            thread_ts="1700000500.000001",
        )
    )
    signed = payloads.signed_headers(outdated, SECRET)
    assert await post_event(base, outdated, signed, "application/x-www-form-urlencoded") == 200
    await slack.wait_for("chat.postEphemeral", count=2)
    [record] = await feedback.recent()
    assert (record.up, record.down, record.down_reasons) == (0, 1, ("outdated",))


async def test_assistant_panel_offers_prompts_then_shows_status_and_streams(
    harness: Harness,
) -> None:
    thread_ts = harness.next_ts()
    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": USER,
            "context": {"channel_id": CHANNEL, "team_id": "T0TEAM", "enterprise_id": None},
            "channel_id": "D0PANEL",
            "thread_ts": thread_ts,
        },
        "event_ts": thread_ts,
    }
    await harness.slack.push("events_api", payloads.event_callback(started))
    [prompts] = await harness.slack.wait_for("assistant.threads.setSuggestedPrompts")
    titles = [p["title"] for p in _json(prompts.params["prompts"])]
    assert titles == ["How do I get started?", "Where do I find the troubleshooting guide?"]

    await harness.slack.push(
        "events_api",
        payloads.message_im(
            "How is data stored in milvus?",
            channel="D0PANEL",
            user=USER,
            ts=harness.next_ts(),
            thread_ts=thread_ts,
        ),
    )
    [stop] = await harness.slack.wait_for("chat.stopStream")
    [status] = harness.slack.calls_to("assistant.threads.setStatus")
    assert status.params["status"] == "Searching the docs…"
    timeline = harness.slack.timeline
    assert timeline.index("call:assistant.threads.setStatus") < timeline.index(
        "call:chat.startStream"
    )
    assert "Where does Milvus store data?" in context_texts(_json(stop.params["blocks"]))


async def test_signed_http_event_is_acknowledged_before_the_first_token(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    llm.reply_with("Milvus keeps inserted data in object storage such as MinIO or S3 [1].")
    llm.hang(0.5)  # the LLM releases its first token only after this
    async with SlackStandIn() as slack:
        feedback = SqliteAnswerLog(tmp_path / "feedback.sqlite")
        await feedback.start()
        bot = SlackBot(slack_settings(slack), generative(faq_bot, llm), feedback)
        port = await bot.start_http("127.0.0.1", 0)
        try:
            body = mention_body("1700000600.000001")
            status = await post_event(
                f"http://127.0.0.1:{port}", body, payloads.signed_headers(body, SECRET)
            )
            streamed_before_ack = list(slack.calls_to("chat.startStream"))
            [stop] = await slack.wait_for("chat.stopStream", timeout=10)
        finally:
            await bot.stop()
            await feedback.stop()
    assert status == 200 and streamed_before_ack == []
    assert stop.params["channel"] == CHANNEL
    assert "Where does Milvus store data?" in context_texts(_json(stop.params["blocks"]))
    assert "object storage" in streamed_text(slack)


def local_settings(tmp_path: Path, embedding_cache: Path) -> Settings:
    """Settings for a `helpbot slack` run: its own Lite file and answer log, no `.env`."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        milvus_uri=str(tmp_path / "m.db"),
        embedding_cache_path=embedding_cache,
        feedback_path=tmp_path / "feedback.sqlite",
    )


async def test_helpbot_slack_runs_the_bot_until_sigterm(
    tmp_path: Path, embedding_cache: Path
) -> None:
    """`helpbot slack --health-port`: connects over Socket Mode, serves health, readiness
    (not ready: nothing ingested yet) and metrics, then stops cleanly on SIGTERM."""
    async with SlackStandIn() as slack:
        settings = local_settings(tmp_path, embedding_cache)
        command = SlackCommand(health=HealthOptions(port=0, host="127.0.0.1"))
        listening = Listening()
        run = asyncio.create_task(run_slack(settings, slack_settings(slack), command, listening))
        await slack.wait_connected(timeout=30)
        await asyncio.wait_for(listening.ready.wait(), 30)
        health = f"http://127.0.0.1:{listening.ports['health']}"
        assert (await http_get(f"{health}/healthz"))[0] == 200
        ready_status, ready = await http_get(f"{health}/readyz")
        metrics_status, metrics = await http_get(f"{health}/metrics")
        os.kill(os.getpid(), signal.SIGTERM)
        assert await asyncio.wait_for(run, 15) == 0
    assert "close" in slack.timeline
    assert ready_status == 503 and json.loads(ready)["checks"]["milvus"] == "not ready"
    assert metrics_status == 200 and "# TYPE helpbot_questions_total counter" in metrics


async def test_helpbot_slack_http_keeps_metrics_on_the_health_port_only(
    tmp_path: Path, embedding_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`helpbot slack --http --health-port`: the public Slack port answers load balancers
    (/healthz, /readyz) but serves no /metrics; those are on the health port, on loopback."""
    async with SlackStandIn() as slack:
        settings = local_settings(tmp_path, embedding_cache)
        command = SlackCommand(http=True, host="127.0.0.1", port=0, health=HealthOptions(port=0))
        listening = Listening()
        run = asyncio.create_task(run_slack(settings, slack_settings(slack), command, listening))
        await asyncio.wait_for(listening.ready.wait(), 30)
        public = f"http://127.0.0.1:{listening.ports['slack']}"
        health = f"http://127.0.0.1:{listening.ports['health']}"
        on_public = [(await http_get(f"{public}{route}"))[0] for route in PROBES]
        on_health = [(await http_get(f"{health}{route}"))[0] for route in PROBES]
        os.kill(os.getpid(), signal.SIGTERM)
        assert await asyncio.wait_for(run, 15) == 0
    assert on_public == [200, 503, 404]
    assert on_health == [200, 503, 200]
    assert f"health and metrics on {health}/metrics" in capsys.readouterr().out


PROBES = ("/healthz", "/readyz", "/metrics")


async def test_a_health_port_that_is_the_slack_port_serves_metrics_there(
    tmp_path: Path, embedding_cache: Path
) -> None:
    """`--port N --health-port N`: the operator put health on the Slack port, metrics too."""
    async with SlackStandIn() as slack:
        settings = local_settings(tmp_path, embedding_cache)
        port = free_port()
        command = SlackCommand(True, "127.0.0.1", port, HealthOptions(port=port))
        listening = Listening()
        run = asyncio.create_task(run_slack(settings, slack_settings(slack), command, listening))
        await asyncio.wait_for(listening.ready.wait(), 30)
        on_slack_port = [(await http_get(f"http://127.0.0.1:{port}{route}"))[0] for route in PROBES]
        os.kill(os.getpid(), signal.SIGTERM)
        assert await asyncio.wait_for(run, 15) == 0
    assert on_slack_port == [200, 503, 200]
    assert listening.ports == {"slack": port}


def group_dm_routing(tmp_path: Path, knowledge_base: str) -> Routing:
    """DMs may search the docs; channels, with no rule and no default, nothing."""
    path = tmp_path / "routing.toml"
    path.write_text(f'default = []\npublic = ["{knowledge_base}"]\n', encoding="utf-8")
    return Routing.from_file(path)


async def test_a_group_dm_gets_the_dm_scope_from_ask_and_from_a_mention(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    """Slack marks a group DM in a slash command by its name (`mpdm-...`) and not at all in
    an app_mention (no channel_type; new group DMs have C ids): both get the DM scope."""
    group_dm = "C0GROUPDM"
    routing = group_dm_routing(tmp_path, faq_bot.service.default_knowledge_base)
    async with (
        SlackStandIn() as slack,
        running(slack, faq_bot.service, tmp_path, routing) as harness,
    ):
        slack.group_dms.add(group_dm)
        ask = payloads.slash_command(
            "/ask", "How is data stored in milvus?", channel=group_dm, user=USER
        )
        ask["channel_name"] = "mpdm-asker--helper--helpbot-1"
        await slack.push("slash_commands", ask)
        [answer] = await slack.wait_for("chat.postMessage")
        ts = harness.next_ts()
        await slack.push(
            "events_api", payloads.app_mention(STORAGE_QUESTION, channel=group_dm, user=USER, ts=ts)
        )
        [streamed] = await slack.wait_for("chat.stopStream")
        await harness.mention()  # a channel: no rule, no default
        [note] = await slack.wait_for("chat.postEphemeral")
    assert answer.params["channel"] == group_dm
    assert "Where does Milvus store data?" in context_texts(_json(answer.params["blocks"])[1:])
    assert streamed.params["channel"] == group_dm
    assert note.params["channel"] == CHANNEL and "not enabled" in note.params["text"]


async def test_dm_that_mentions_the_bot_or_shares_a_file_is_answered(harness: Harness) -> None:
    mention = payloads.message_im(
        "<@U0BOT> How is data stored in milvus?", channel="D0DM", user=USER, ts=harness.next_ts()
    )
    with_file = payloads.message_im(
        "How is data stored in milvus?", channel="D0DM", user=USER, ts=harness.next_ts()
    )
    with_file["event"]["subtype"] = "file_share"
    with_file["event"]["files"] = [{"id": "F1", "name": "screenshot.png"}]
    await harness.slack.push("events_api", mention)
    await harness.slack.push("events_api", with_file)
    starts = await harness.slack.wait_for("chat.startStream", count=2)
    assert {s.params["thread_ts"] for s in starts} == {
        mention["event"]["ts"],
        with_file["event"]["ts"],
    }


async def test_edited_mention_is_not_answered_again(harness: Harness) -> None:
    ts, _ = await harness.mention()
    await harness.slack.wait_for("chat.stopStream")
    edited = payloads.app_mention(STORAGE_QUESTION + " (edited)", channel=CHANNEL, user=USER, ts=ts)
    edited["event"]["edited"] = {"user": USER, "ts": harness.next_ts()}
    await harness.slack.push("events_api", edited)
    await harness.mention("<@U0BOT> What is the maximum vector dimension?")
    await harness.slack.wait_for("chat.stopStream", count=2)
    assert len(harness.slack.calls_to("chat.startStream")) == 2


async def test_the_bots_own_reply_in_a_thread_does_not_start_a_loop(harness: Harness) -> None:
    ts, _ = await harness.mention()
    [stop] = await harness.slack.wait_for("chat.stopStream")
    # Slack delivers the bot's own answer back as a plain message (bot_id set, no subtype).
    own = payloads.thread_reply(
        "Milvus stores data in object storage.",
        channel=CHANNEL,
        user="U0BOT",
        ts=stop.params["ts"],
        thread_ts=ts,
    )
    own["event"]["bot_id"] = "B0BOT"
    await harness.slack.push("events_api", own)
    await harness.mention("<@U0BOT> What is the maximum vector dimension?")
    await harness.slack.wait_for("chat.stopStream", count=2)
    assert len(harness.slack.calls_to("chat.startStream")) == 2


async def test_vote_on_an_unknown_answer_says_it_was_not_counted(harness: Harness) -> None:
    await harness.slack.push(
        "interactive",
        payloads.block_actions(
            VOTE_UP, "0" * 32, channel=CHANNEL, user="U0VOTER", message_ts=harness.next_ts()
        ),
    )
    [note] = await harness.slack.wait_for("chat.postEphemeral")
    assert "not counted" in note.params["text"]
    assert await harness.feedback.recent() == []


async def test_stopping_cancels_answers_in_progress_before_closing(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    llm.hang(30.0)  # an answer that is still being generated when the bot stops
    async with SlackStandIn() as slack:
        harness, bot = await start_harness(slack, generative(faq_bot, llm), tmp_path)
        await harness.mention()
        await slack.wait_for("reactions.add")
        await llm_asked(llm)
        assert bot.answers_in_progress == 1
        await asyncio.wait_for(bot.stop(), 10)
        assert bot.answers_in_progress == 0
        await harness.feedback.stop()
        posted_after_stop = [c.method for c in slack.calls if c.method.startswith("chat.")]
    assert posted_after_stop == []


async def llm_asked(llm: OpenAIStandIn) -> None:
    for _ in range(200):
        if llm.chat_calls():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("the LLM stand-in was never asked")
