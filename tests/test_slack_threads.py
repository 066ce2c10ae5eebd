"""Threads on Slack: only threads the bot answered in are read back, never more of a thread
than is kept, for THREAD_MEMORY_DAYS; the assistant panel answers for the channel the user
is viewing."""

from __future__ import annotations

from pathlib import Path

from bots.state.conversation_memory import LocalConversationMemory
from core import Routing
from core.container import Helpbot
from tests.standins import slack_payloads as payloads
from tests.standins.slack_server import SlackStandIn
from tests.test_slack_bot import CHANNEL, USER, running


async def test_a_reply_in_a_thread_the_bot_never_answered_is_not_even_read(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    async with SlackStandIn() as slack, running(slack, faq_bot.service, tmp_path) as harness:
        parent = harness.next_ts()
        slack.seed_thread(CHANNEL, parent, [{"user": "U0OTHER", "text": "lunch?"}])
        reply = payloads.thread_reply(
            "How is data stored in milvus?",
            channel=CHANNEL,
            user=USER,
            ts=harness.next_ts(),
            thread_ts=parent,
        )
        await slack.push("events_api", reply)
        await harness.mention()  # a later mention proves the reply was handled
        await slack.wait_for("chat.stopStream")
    assert slack.calls_to("conversations.replies") == []
    assert len(slack.calls_to("chat.startStream")) == 1


async def test_a_follow_up_in_a_long_thread_reads_only_what_is_kept(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    async with SlackStandIn() as slack, running(slack, faq_bot.service, tmp_path) as harness:
        parent = harness.next_ts()
        chatter = [{"user": f"U0{n % 7}", "text": f"message {n}"} for n in range(500)]
        slack.seed_thread(CHANNEL, parent, chatter)
        await harness.mention(thread_ts=parent)
        await slack.wait_for("chat.stopStream")
        follow_up = payloads.thread_reply(
            "and where is it kept?",
            channel=CHANNEL,
            user=USER,
            ts=harness.next_ts(),
            thread_ts=parent,
        )
        await slack.push("events_api", follow_up)
        await slack.wait_for("chat.stopStream", count=2)
    reads = slack.calls_to("conversations.replies")
    assert len(reads) == 2  # one call for each answer, not ten pages of a 500-message thread
    assert all(int(call.params["limit"]) <= 50 for call in reads)


async def test_the_bot_forgets_a_thread_after_thread_memory_days(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    """THREAD_MEMORY_DAYS is honoured: with a memory of a millisecond, a follow-up without
    a mention is no longer answered."""
    days = 0.001 / 86_400
    async with (
        SlackStandIn() as slack,
        running(slack, faq_bot.service, tmp_path, thread_memory_days=days) as harness,
    ):
        ts, _ = await harness.mention()
        await slack.wait_for("chat.stopStream")
        follow_up = payloads.thread_reply(
            "and S3?", channel=CHANNEL, user=USER, ts=harness.next_ts(), thread_ts=ts
        )
        await slack.push("events_api", follow_up)
        later, _ = await harness.mention("<@U0BOT> What is the maximum vector dimension?")
        await slack.wait_for("chat.stopStream", count=2)
    answered = [call.params["thread_ts"] for call in slack.calls_to("chat.startStream")]
    assert answered == [ts, later]


async def test_conversation_memory_keeps_each_entry_for_its_time() -> None:
    now = [0.0]
    memory = LocalConversationMemory(ttl_s=10, clock=lambda: now[0])
    await memory.remember("thread:C1:1.0")
    await memory.remember("panel:D1:2.0", '{"channel_id": "C1"}')
    now[0] = 9.0
    await memory.remember("thread:C1:1.0")  # answered again: remembered for longer
    assert await memory.recall("panel:D1:2.0") == '{"channel_id": "C1"}'
    now[0] = 11.0
    assert await memory.recall("panel:D1:2.0") is None
    assert await memory.recall("thread:C1:1.0") == "1"
    assert await memory.recall("thread:C9:1.0") is None


def channel_only_routing(tmp_path: Path, knowledge_base: str) -> Routing:
    """DMs (and so the assistant panel) may search nothing; CHANNEL may search the docs."""
    path = tmp_path / "routing.toml"
    path.write_text(
        f'default = []\npublic = []\n[slack.channels]\n{CHANNEL} = ["{knowledge_base}"]\n',
        encoding="utf-8",
    )
    return Routing.from_file(path)


def panel_event(kind: str, viewing: str, thread_ts: str) -> dict:
    return payloads.event_callback(
        {
            "type": kind,
            "assistant_thread": {
                "user_id": USER,
                "context": {"channel_id": viewing, "team_id": "T0TEAM", "enterprise_id": None},
                "channel_id": "D0PANEL",
                "thread_ts": thread_ts,
            },
            "event_ts": thread_ts,
        }
    )


async def test_the_assistant_panel_answers_for_the_channel_the_user_is_viewing(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    routing = channel_only_routing(tmp_path, faq_bot.service.default_knowledge_base)
    async with (
        SlackStandIn() as slack,
        running(slack, faq_bot.service, tmp_path, routing) as harness,
    ):
        thread = harness.next_ts()
        await slack.push("events_api", panel_event("assistant_thread_started", CHANNEL, thread))
        await slack.wait_for("assistant.threads.setSuggestedPrompts")
        question = payloads.message_im(
            "How is data stored in milvus?",
            channel="D0PANEL",
            user=USER,
            ts=harness.next_ts(),
            thread_ts=thread,
        )
        await slack.push("events_api", question)
        [stop] = await slack.wait_for("chat.stopStream")
        # The user moves to a channel with no knowledge base: the panel's own scope (none).
        moved = panel_event("assistant_thread_context_changed", "C0ELSEWHERE", thread)
        await slack.push("events_api", moved)
        again = payloads.message_im(
            "How is data stored in milvus?",
            channel="D0PANEL",
            user=USER,
            ts=harness.next_ts(),
            thread_ts=thread,
        )
        await slack.push("events_api", again)
        [note] = await slack.wait_for("chat.postEphemeral")
    assert stop.params["channel"] == "D0PANEL"
    assert "not enabled" in note.params["text"]
    assert len(slack.calls_to("chat.startStream")) == 1
