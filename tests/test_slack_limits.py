"""Fair limits on Slack: a per-user cooldown and a per-channel budget, each refused question
told so politely, only to its asker."""

from __future__ import annotations

from pathlib import Path

from core.container import Helpbot
from tests.standins import slack_payloads as payloads
from tests.standins.slack_server import SlackStandIn
from tests.test_slack_bot import CHANNEL, STORAGE_QUESTION, USER, running


async def test_a_second_question_within_the_cooldown_gets_a_polite_ephemeral(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    async with (
        SlackStandIn() as slack,
        running(slack, faq_bot.service, tmp_path, slack_cooldown_s=60) as harness,
    ):
        first, _ = await harness.mention()
        await slack.wait_for("chat.stopStream")
        await harness.mention("<@U0BOT> And what about S3?")
        [note] = await slack.wait_for("chat.postEphemeral")
        other = payloads.app_mention(
            STORAGE_QUESTION, channel=CHANNEL, user="U0OTHER", ts=harness.next_ts()
        )
        await slack.push("events_api", other)
        await slack.wait_for("chat.stopStream", count=2)
    assert note.params["user"] == USER
    assert note.params["text"].startswith("Please wait") and " 60 s" in note.params["text"]
    answered = [call.params["thread_ts"] for call in slack.calls_to("chat.startStream")]
    assert answered == [first, other["event"]["ts"]]


async def test_ask_within_the_cooldown_is_answered_by_its_ack_only(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    async with (
        SlackStandIn() as slack,
        running(slack, faq_bot.service, tmp_path, slack_cooldown_s=60),
    ):
        ask = payloads.slash_command("/ask", "How is data stored?", channel=CHANNEL, user=USER)
        await slack.push("slash_commands", ask)
        await slack.wait_for("chat.postMessage")
        envelope = await slack.push("slash_commands", ask)
        ack = await slack.wait_for_ack(envelope)
    assert ack["payload"]["text"].startswith("Please wait")
    assert ack["payload"]["response_type"] == "ephemeral"
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_a_busy_channel_past_its_budget_is_asked_to_wait(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    async with (
        SlackStandIn() as slack,
        running(slack, faq_bot.service, tmp_path, slack_channel_questions_per_minute=2) as harness,
    ):
        for user in ("U0A", "U0B", "U0C"):
            await slack.push(
                "events_api",
                payloads.app_mention(
                    STORAGE_QUESTION, channel=CHANNEL, user=user, ts=harness.next_ts()
                ),
            )
        [note] = await slack.wait_for("chat.postEphemeral")
        await slack.push(
            "events_api",
            payloads.app_mention(
                STORAGE_QUESTION, channel="C0QUIET", user="U0C", ts=harness.next_ts()
            ),
        )
        await slack.wait_for("chat.stopStream", count=3)
    assert note.params["user"] == "U0C" and note.params["channel"] == CHANNEL
    assert note.params["text"].startswith("Please wait")
    channels = [call.params["channel"] for call in slack.calls_to("chat.startStream")]
    assert sorted(channels) == sorted([CHANNEL, CHANNEL, "C0QUIET"])
