"""The Discord adapter, driven through the unmodified discord.py client against a local
Discord stand-in (REST and gateway), with the real core on the FAQ collection."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bots.cli import DiscordCommand, Listening, run_discord
from bots.cli.running import HealthOptions
from bots.discord.client import DiscordBot
from bots.discord.settings import DiscordSettings
from core.answering.service import RagService
from core.container import Helpbot
from core.learning.sqlite_answer_log import SqliteAnswerLog
from core.settings import Settings
from tests.standins.discord_payloads import (
    BOT_ROLE_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    CHANNEL_ID,
    GUILD_ID,
    MESSAGE_CONTENT,
    OTHER_USER_ID,
    USER_ID,
    message_create,
    new_snowflake,
    thread_channel,
)
from tests.standins.discord_server import DiscordStandIn
from tests.standins.openai_server import OpenAIStandIn
from tests.support import generative, http_get

STORAGE = "Where does Milvus store data?"


@pytest.fixture
async def llm() -> AsyncIterator[OpenAIStandIn]:
    async with OpenAIStandIn() as server:
        yield server


def discord_settings(**overrides: object) -> DiscordSettings:
    values: dict[str, object] = {"discord_token": BOT_TOKEN, "discord_guild_id": int(GUILD_ID)}
    values.update(overrides)
    return DiscordSettings(_env_file=None, **values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running(
    api: DiscordStandIn, service: RagService, feedback: SqliteAnswerLog, **overrides: object
) -> AsyncIterator[DiscordBot]:
    """The bot logged in, connected and ready (commands synced); closed on exit."""
    bot = DiscordBot(discord_settings(**overrides), service, feedback, guild_ready_timeout=0.01)
    async with api.running(bot):
        yield bot


def field_names(call: Any) -> list[str]:
    return [field["name"] for embed in call.embeds for field in embed.get("fields", [])]


def final_message(api: DiscordStandIn, channel: str = CHANNEL_ID) -> dict[str, Any]:
    """The channel's latest message (an empty one before any)."""
    messages = api.messages(channel)
    return messages[-1] if messages else {}


async def until(api: DiscordStandIn, check: Any, what: str) -> None:
    await api.wait_until(check, timeout=15, what=what)


def has_buttons(message: dict[str, Any]) -> bool:
    return any(
        c.get("custom_id", "").startswith("helpbot:vote:")
        for row in message.get("components", [])
        for c in row.get("components", [])
    )


def answers(api: DiscordStandIn, channel: str) -> int:
    """How many complete answers (the last piece carries the vote buttons) `channel` shows."""
    return sum(has_buttons(message) for message in api.messages(channel))


def bot_messages(api: DiscordStandIn, channel: str = CHANNEL_ID) -> list[dict[str, Any]]:
    return [m for m in api.messages(channel) if m["author"]["id"] == BOT_USER_ID]


def replied_to(api: DiscordStandIn, channel: str) -> list[str]:
    """The ids of the messages the bot replied to in `channel`, in order."""
    return [
        m["message_reference"]["message_id"]
        for m in bot_messages(api, channel)
        if m.get("message_reference")
    ]


def conversation(call: Any) -> list[dict[str, str]]:
    """The earlier turns a chat request carried: between the system prompt and the question."""
    return list(call.json["messages"][1:-1])


async def test_ask_is_deferred_then_answered_with_sources_embed(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    async with running(discord_api, faq_bot.service, feedback):
        [sync] = discord_api.calls_to("guild_commands.overwrite")
        assert [c["name"] for c in sync.json] == ["ask"]
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answer")
    [callback] = discord_api.calls_to("interaction.callback")
    assert callback.json["type"] == 5  # deferred ("thinking…")
    answer = final_message(discord_api)
    names = [f["name"] for e in answer["embeds"] for f in e.get("fields", [])]
    assert any(STORAGE in name for name in names)
    assert answer["mention_everyone"] is False


async def test_defer_comes_before_the_llm_releases_its_first_token(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog, llm: OpenAIStandIn
) -> None:
    llm.reply_with("Milvus keeps inserted data in object storage such as MinIO or S3 [1].")
    llm.hang(0.5)
    async with running(discord_api, generative(faq_bot, llm), feedback):
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        await discord_api.wait_for("interaction.callback")
        shown_at_defer = [c for c in discord_api.calls if c.route.startswith("followup")]
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answer")
    assert shown_at_defer == []
    timeline = discord_api.timeline
    assert timeline.index("rest:interaction.callback") < timeline.index("rest:followup.create")
    answer = final_message(discord_api)
    assert "object storage" in answer["content"]
    assert any(STORAGE in f["name"] for e in answer["embeds"] for f in e["fields"])


async def test_answer_streams_by_editing_the_follow_up(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog, llm: OpenAIStandIn
) -> None:
    reply = "Inserted data goes to object storage such as MinIO or S3 [1]. " * 12
    llm.reply_with(reply)
    llm.stall_stream_after(deltas=3, seconds=1.2)  # the user sees the start, then the rest
    async with running(discord_api, generative(faq_bot, llm), feedback):
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answer")
    [created] = discord_api.calls_to("followup.create")
    edits = discord_api.calls_to("followup.edit")
    assert len(created.content or "") < len(reply.strip())  # it began with part of the answer
    assert 1 <= len(edits) <= len(reply.split()) // 3 // 2  # throttled, not one per delta
    assert final_message(discord_api)["content"] == reply.strip()


async def test_mass_mentions_from_documents_or_models_never_ping(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog, llm: OpenAIStandIn
) -> None:
    llm.reply_with(f"@everyone @here <@{USER_ID}> <@&{GUILD_ID}> data is in object storage [1].")
    async with running(discord_api, generative(faq_bot, llm), feedback):
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answer")
    sends = [c for c in discord_api.calls if c.route.startswith(("followup", "messages"))]
    assert sends and all(c.allowed_mentions == {"parse": []} for c in sends)
    answer = final_message(discord_api)
    assert answer["mention_everyone"] is False and answer["mentions"] == []
    assert answer["mention_roles"] == []
    assert "@everyone" not in answer["content"]


async def test_long_answers_are_split_within_the_content_limit(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog, llm: OpenAIStandIn
) -> None:
    reply = "\n\n".join(f"Part {n}: object storage holds the segments [1]. " * 12 for n in range(8))
    llm.reply_with(reply)
    async with running(discord_api, generative(faq_bot, llm), feedback):
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answer")
    messages = discord_api.messages()
    assert len(messages) >= 3 and all(len(m["content"]) <= 2000 for m in messages)
    assert all(c.status < 400 for c in discord_api.calls)
    shown = "".join(m["content"] for m in messages)
    assert "".join(shown.split()) == "".join(reply.split())  # nothing lost at the cuts


async def test_streaming_stops_editing_before_the_content_limit(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog, llm: OpenAIStandIn
) -> None:
    """The model pauses once more than 2000 characters have arrived: the preview is not
    edited past Discord's limit (which would be refused), and the complete answer still
    arrives split into messages at the end."""
    reply = "\n\n".join(f"Part {n}: object storage holds the segments [1]. " * 12 for n in range(6))
    llm.reply_with(reply)
    llm.stall_stream_after(deltas=130, seconds=1.2)  # about 2300 characters, then a pause
    async with running(discord_api, generative(faq_bot, llm), feedback):
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answer")
    sent = [c for c in discord_api.calls if c.route.startswith(("followup", "messages"))]
    assert all(c.status < 400 for c in discord_api.calls)
    assert all(len(c.content or "") <= 2000 for c in sent)
    shown = "".join(m["content"] for m in discord_api.messages())
    assert "".join(shown.split()) == "".join(reply.split())


async def test_vote_button_records_feedback_and_metrics_count_both(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    async with running(discord_api, faq_bot.service, feedback) as bot:
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answer")
        answer = final_message(discord_api)
        up = answer["components"][0]["components"][0]["custom_id"]
        await discord_api.button_click(up, message_id=answer["id"])
        await discord_api.wait_for("interaction.callback", count=2)
    thanks = discord_api.calls_to("interaction.callback")[-1]
    assert thanks.json["type"] == 4 and thanks.json["data"]["flags"] & 64  # ephemeral
    [record] = await feedback.recent()
    assert (record.up, record.down, record.platform) == (1, 0, "discord")
    assert any(STORAGE in s for s in record.sources)
    sample = bot.metrics.registry.get_sample_value
    assert sample("helpbot_questions_total", {"platform": "discord", "outcome": "answered"}) == 1
    assert sample("helpbot_feedback_votes_total", {"platform": "discord", "vote": "up"}) == 1


async def test_mention_in_a_channel_is_answered_as_a_reply(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    async with running(discord_api, faq_bot.service, feedback):
        question = await discord_api.user_message(
            f"<@{BOT_USER_ID}> How is data stored in milvus?", mentions=[BOT_USER_ID]
        )
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the reply")
    answer = final_message(discord_api)
    assert answer["message_reference"]["message_id"] == question["id"]
    assert any(STORAGE in f["name"] for e in answer["embeds"] for f in e["fields"])
    [create] = discord_api.calls_to("messages.create")
    assert create.allowed_mentions is not None and create.allowed_mentions.get("parse") == []


async def test_mention_can_open_a_thread_and_follow_ups_there_use_its_history(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    async with running(
        discord_api,
        faq_bot.service,
        feedback,
        discord_answer_in_thread=True,
        discord_cooldown_s=0,
    ):
        question = await discord_api.user_message(
            f"<@{BOT_USER_ID}> Where does milvus keep my inserted data?", mentions=[BOT_USER_ID]
        )
        [thread_call] = await discord_api.wait_for("threads.create_from_message")
        thread_id = question["id"]
        await until(
            discord_api,
            lambda: (
                bool(discord_api.messages(thread_id))
                and has_buttons(discord_api.messages(thread_id)[-1])
            ),
            "the thread answer",
        )
        await discord_api.user_message(
            f"<@{BOT_USER_ID}> and what about S3?", channel_id=thread_id, mentions=[BOT_USER_ID]
        )
        await until(
            discord_api,
            lambda: sum(has_buttons(m) for m in discord_api.messages(thread_id)) == 2,
            "the follow-up answer",
        )
    follow_up = discord_api.messages(thread_id)[-1]
    assert any(STORAGE in f["name"] for e in follow_up["embeds"] for f in e["fields"])
    assert discord_api.calls_to("messages.list")  # the thread was read back for history
    assert thread_call.json["name"].startswith("Where does milvus keep")


async def test_direct_message_is_answered(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    async with running(discord_api, faq_bot.service, feedback):
        question = await discord_api.user_message("How is data stored in milvus?", dm=True)
        channel = question["channel_id"]
        await until(
            discord_api,
            lambda: (
                bool(discord_api.messages(channel))
                and has_buttons(discord_api.messages(channel)[-1])
            ),
            "the DM answer",
        )
    answer = discord_api.messages(channel)[-1]
    assert any(STORAGE in f["name"] for e in answer["embeds"] for f in e["fields"])


async def test_direct_messages_are_ignored_when_turned_off(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    async with running(discord_api, faq_bot.service, feedback, discord_allow_dms=False):
        await discord_api.user_message("How is data stored in milvus?", dm=True)
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answer")
    assert not [c for c in discord_api.calls_to("messages.create")]


async def test_ask_outside_the_allow_list_is_refused_only_to_the_asker(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    async with running(discord_api, faq_bot.service, feedback, discord_allowed_channels=(1,)):
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        [callback] = await discord_api.wait_for("interaction.callback")
    assert callback.json["type"] == 4 and callback.json["data"]["flags"] & 64
    assert "not enabled" in callback.json["data"]["content"]
    assert not discord_api.calls_to("followup.create")


async def test_one_user_cannot_flood_the_bot(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    async with running(discord_api, faq_bot.service, feedback, discord_cooldown_s=60):
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        await discord_api.slash_command("ask", {"question": "And the metadata?"})
        await discord_api.wait_for("interaction.callback", count=2)
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answer")
    first, second = discord_api.calls_to("interaction.callback")
    assert first.json["type"] == 5
    assert second.json["type"] == 4 and second.json["data"]["flags"] & 64
    assert second.json["data"]["content"].startswith("Please wait")
    assert len(discord_api.calls_to("followup.create")) == 1


async def test_a_question_asked_while_shutting_down_is_told_to_come_back(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog, llm: OpenAIStandIn
) -> None:
    """While the bot drains (SIGTERM), the answer in flight finishes; a new /ask is told at
    once, only to its asker, to ask again (it was deferred and left thinking before), and a
    new mention gets the same as a reply (it was dropped in silence)."""
    llm.reply_with("Milvus keeps inserted data in object storage such as MinIO or S3 [1].")
    llm.hang(2.0)
    async with running(discord_api, generative(faq_bot, llm), feedback) as bot:
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        await discord_api.wait_until(lambda: llm.chat_calls(), timeout=15, what="the model asked")
        draining = asyncio.create_task(bot.drain(10))
        await discord_api.slash_command("ask", {"question": "And the metadata?"})
        await discord_api.wait_for("interaction.callback", count=2)
        mention = await discord_api.user_message(
            f"<@{BOT_USER_ID}> And the index files?", mentions=[BOT_USER_ID]
        )
        await until(discord_api, lambda: replied_to(discord_api, CHANNEL_ID), "the mention's reply")
        await draining
    first, second = discord_api.calls_to("interaction.callback")
    assert first.json["type"] == 5
    assert second.json["type"] == 4 and second.json["data"]["flags"] & 64
    assert "ask again" in second.json["data"]["content"]
    assert replied_to(discord_api, CHANNEL_ID) == [mention["id"]]
    assert "ask again" in bot_messages(discord_api)[-1]["content"]
    assert len(discord_api.calls_to("followup.create")) == 1  # the first answer, finished:
    assert any(
        has_buttons(m) and "object storage" in m["content"]
        for m in discord_api.messages(CHANNEL_ID)
    )


async def test_model_failure_gives_a_friendly_message(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog, llm: OpenAIStandIn
) -> None:
    llm.fail_with(500, times=2, retry_after=0.01)
    async with running(discord_api, generative(faq_bot, llm), feedback):
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        [sent] = await discord_api.wait_for("followup.create", timeout=15)
    assert sent.content is not None
    assert sent.content.startswith("Sorry, the language model did not answer")


async def test_question_the_docs_do_not_cover_gets_a_plain_dont_know(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    async with running(discord_api, faq_bot.service, feedback):
        await discord_api.slash_command("ask", {"question": "What is a good banana bread recipe?"})
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answer")
    answer = final_message(discord_api)
    assert answer["content"].startswith("I don't know") and answer["embeds"] == []


async def test_rate_limited_follow_up_is_waited_out_and_lands(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    discord_api.fail_with("followup.create", status=429, retry_after=0.05)
    async with running(discord_api, faq_bot.service, feedback):
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answer")
    creates = discord_api.calls_to("followup.create")
    assert [c.status for c in creates] == [429, 200]
    assert any(
        STORAGE in f["name"] for e in final_message(discord_api)["embeds"] for f in e["fields"]
    )


async def test_no_privileged_intent_is_asked_for_by_default(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    async with running(discord_api, faq_bot.service, feedback):
        pass
    assert discord_api.intents and not discord_api.intents & MESSAGE_CONTENT


async def test_without_a_guild_id_commands_sync_globally(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    async with running(discord_api, faq_bot.service, feedback, discord_guild_id=None):
        pass
    [sync] = discord_api.calls_to("commands.overwrite")
    assert [c["name"] for c in sync.json] == ["ask"]
    assert not discord_api.calls_to("guild_commands.overwrite")


async def test_an_answer_past_its_deadline_ends_with_a_timeout_message(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog, llm: OpenAIStandIn
) -> None:
    llm.hang(3.0)
    async with running(discord_api, generative(faq_bot, llm, deadline_s=0.5), feedback):
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        [sent] = await discord_api.wait_for("followup.create", timeout=15)
    assert sent.content == "Sorry, that took too long to answer. Please try again."


async def test_guild_outside_the_allow_list_is_refused(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    async with running(discord_api, faq_bot.service, feedback, discord_allowed_guilds=(42,)):
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        [callback] = await discord_api.wait_for("interaction.callback")
        await discord_api.user_message(f"<@{BOT_USER_ID}> hello?", mentions=[BOT_USER_ID])
        # A DM (allowed) is answered afterwards: proof the guild mention was handled, not lost.
        dm = await discord_api.user_message("How is data stored in milvus?", dm=True)
        await until(
            discord_api,
            lambda: has_buttons(final_message(discord_api, dm["channel_id"])),
            "the DM answer",
        )
    assert "not enabled" in callback.json["data"]["content"]
    assert [c.path.split("/")[2] for c in discord_api.calls_to("messages.create")] == [
        dm["channel_id"]
    ]


async def test_helpbot_discord_runs_the_bot_until_sigterm(
    discord_api: DiscordStandIn, tmp_path: Path, embedding_cache: Path
) -> None:
    """`helpbot discord --health-port`: logs in, syncs /ask, serves health, readiness (not
    ready: nothing ingested yet) and metrics, and stops cleanly on SIGTERM."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        milvus_uri=str(tmp_path / "m.db"),
        embedding_cache_path=embedding_cache,
        feedback_path=tmp_path / "feedback.sqlite",
    )
    command = DiscordCommand(HealthOptions(port=0, host="127.0.0.1"))
    listening = Listening()
    run = asyncio.create_task(run_discord(settings, discord_settings(), command, listening))
    await discord_api.wait_for("guild_commands.overwrite", timeout=30)
    await asyncio.wait_for(listening.ready.wait(), 30)
    health = f"http://127.0.0.1:{listening.ports['health']}"
    assert (await http_get(f"{health}/healthz"))[0] == 200
    ready_status, ready = await http_get(f"{health}/readyz")
    metrics_status, metrics = await http_get(f"{health}/metrics")
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(run, 15) == 0
    assert "close" in discord_api.timeline
    assert ready_status == 503 and json.loads(ready)["checks"]["milvus"] == "not ready"
    assert metrics_status == 200 and "# TYPE helpbot_questions_total counter" in metrics


async def test_without_thread_permission_the_answer_goes_in_the_channel(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    discord_api.fail_with(
        "threads.create_from_message", status=403, code=50013, message="Missing Permissions"
    )
    async with running(discord_api, faq_bot.service, feedback, discord_answer_in_thread=True):
        question = await discord_api.user_message(
            f"<@{BOT_USER_ID}> How is data stored in milvus?", mentions=[BOT_USER_ID]
        )
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the reply")
    answer = final_message(discord_api)
    assert answer["message_reference"]["message_id"] == question["id"]


async def test_vote_on_an_unknown_answer_says_it_was_not_counted(
    discord_api: DiscordStandIn, faq_bot: Helpbot, tmp_path: Path
) -> None:
    """The buttons outlive the bot; after a restart with another feedback file, a click on
    an old answer is told plainly that it was not counted."""
    stores = [
        SqliteAnswerLog(tmp_path / "before.sqlite"),
        SqliteAnswerLog(tmp_path / "after.sqlite"),
    ]
    for store in stores:
        await store.start()
    try:
        async with running(discord_api, faq_bot.service, stores[0]):
            await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
            await until(discord_api, lambda: has_buttons(final_message(discord_api)), "answer")
        answer = final_message(discord_api)
        up = answer["components"][0]["components"][0]["custom_id"]
        async with running(discord_api, faq_bot.service, stores[1]):
            await discord_api.button_click(up, message_id=answer["id"])
            await discord_api.wait_for("interaction.callback", count=2)
        assert await stores[1].recent() == []
    finally:
        for store in stores:
            await store.stop()
    note = discord_api.calls_to("interaction.callback")[-1]
    assert note.json["data"]["content"].startswith("That answer is no longer on record")


# --- follow-ups in threads -------------------------------------------------------------------

IN_THREADS = {
    "discord_answer_in_thread": True,
    "discord_message_content_intent": True,
    "discord_cooldown_s": 0,
}


async def test_reply_in_the_bots_thread_is_answered_with_the_thread_as_history(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog, llm: OpenAIStandIn
) -> None:
    """With the Message Content intent, a reply without a mention in the thread the bot opened
    is a follow-up, answered with the thread so far; the thread of an allowed channel counts
    as that channel."""
    llm.reply_with(
        "Milvus keeps inserted data in object storage such as MinIO or S3 [1].",
        "How is data stored in milvus?",  # the follow-up condensed into a search
        "Yes: S3 is one of the object stores Milvus writes to [1].",
    )
    allowed = {"discord_allowed_channels": (int(CHANNEL_ID),)}
    async with running(discord_api, generative(faq_bot, llm), feedback, **IN_THREADS, **allowed):
        question = await discord_api.user_message(
            f"<@{BOT_USER_ID}> How is data stored in milvus?", mentions=[BOT_USER_ID]
        )
        thread = question["id"]
        await until(discord_api, lambda: answers(discord_api, thread) == 1, "the thread answer")
        follow_up = await discord_api.user_message("and what about S3?", channel_id=thread)
        await until(discord_api, lambda: answers(discord_api, thread) == 2, "the follow-up")
    assert discord_api.intents & MESSAGE_CONTENT
    first, second = bot_messages(discord_api, thread)
    assert second["content"].startswith("Yes: S3 is one of the object stores")
    assert second["message_reference"]["message_id"] == follow_up["id"]
    *_, answering = llm.chat_calls()
    assert conversation(answering) == [
        {"role": "user", "content": "How is data stored in milvus?"},
        {"role": "assistant", "content": first["content"]},
    ]
    assert answering.json["messages"][-1]["content"].endswith("Question: and what about S3?")


async def test_without_the_intent_only_mentions_are_answered_in_threads(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    """Today's behaviour without DISCORD_MESSAGE_CONTENT_INTENT (and without the portal's
    toggle): a plain reply arrives blank and is left alone; a mention is answered."""
    discord_api.privileged_intents = 0
    settings = {**IN_THREADS, "discord_message_content_intent": False}
    async with running(discord_api, faq_bot.service, feedback, **settings):
        question = await discord_api.user_message(
            f"<@{BOT_USER_ID}> How is data stored in milvus?", mentions=[BOT_USER_ID]
        )
        thread = question["id"]
        await until(discord_api, lambda: answers(discord_api, thread) == 1, "the thread answer")
        await discord_api.user_message("and what about S3?", channel_id=thread)
        mention = await discord_api.user_message(
            f"<@{BOT_USER_ID}> and what about S3?", channel_id=thread, mentions=[BOT_USER_ID]
        )
        await until(discord_api, lambda: answers(discord_api, thread) == 2, "the mention's answer")
    assert not discord_api.intents & MESSAGE_CONTENT
    assert replied_to(discord_api, thread) == [mention["id"]]


async def test_the_bot_joins_a_users_thread_only_once_asked_there(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    """In a thread someone else opened, chatter is left alone until the bot is mentioned;
    after its answer, replies are follow-ups, except those addressed to someone else."""
    thread = thread_channel(new_snowflake(), name="storage questions", owner_id=USER_ID)
    async with running(discord_api, faq_bot.service, feedback, **IN_THREADS):
        await discord_api.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        where = thread["id"]
        await discord_api.user_message("where do segments go?", channel_id=where)
        asked = await discord_api.user_message(
            f"<@{BOT_USER_ID}> How is data stored in milvus?", channel_id=where
        )
        await until(discord_api, lambda: answers(discord_api, where) == 1, "the answer")
        await discord_api.user_message(
            f"<@{OTHER_USER_ID}> can you check our bucket?", channel_id=where
        )
        follow_up = await discord_api.user_message("and on S3?", channel_id=where)
        await until(discord_api, lambda: answers(discord_api, where) == 2, "the follow-up")
    assert replied_to(discord_api, where) == [asked["id"], follow_up["id"]]


async def test_a_long_thread_reaches_the_model_trimmed_to_its_newest_turns(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog, llm: OpenAIStandIn
) -> None:
    """Each answer here spans two Discord messages, read back as one turn; the conversation
    the model gets is capped in characters (newest turns kept), not only in turns."""
    first = "First answer: " + "object storage keeps the segments [1]. " * 90
    second = "Second answer: " + "S3 keeps the segments as objects [1]. " * 90
    condensed = "How is data stored in milvus?"
    llm.reply_with(first, condensed, second, condensed, "Third answer [1].")
    service = generative(faq_bot, llm, history_turns=3, history_max_chars=5000)
    async with running(discord_api, service, feedback, **IN_THREADS):
        question = await discord_api.user_message(
            f"<@{BOT_USER_ID}> How is data stored in milvus?", mentions=[BOT_USER_ID]
        )
        thread = question["id"]
        for count, text in enumerate(("and on S3?", "and on MinIO?"), start=1):
            await until(discord_api, lambda n=count: answers(discord_api, thread) == n, "answer")
            await discord_api.user_message(text, channel_id=thread)
        await until(discord_api, lambda: answers(discord_api, thread) == 3, "the third answer")
    assert len(bot_messages(discord_api, thread)) == 5  # two answers of two messages, and one
    *_, answering = llm.chat_calls()
    turns = conversation(answering)
    assert sum(len(turn["content"]) for turn in turns) <= 5000
    assert turns[-1]["role"] == "assistant" and turns[-1]["content"].startswith("Second answer")
    assert "".join(turns[-1]["content"].split()) == "".join(second.split())
    assert not any("First answer" in turn["content"] for turn in turns)


# --- duplicates and mentions ---------------------------------------------------------------


async def test_the_same_message_delivered_again_after_a_resume_is_answered_once(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    question = message_create(f"<@{BOT_USER_ID}> How is data stored in milvus?")
    async with running(discord_api, faq_bot.service, feedback, discord_cooldown_s=0) as bot:
        await discord_api.dispatch("MESSAGE_CREATE", question)
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the reply")
        await discord_api.request_reconnect()
        await discord_api.dispatch("MESSAGE_CREATE", question)
        # A DM asked after the redelivery is answered: by then the redelivery was handled.
        dm = await discord_api.user_message("How is data stored in milvus?", dm=True)
        channel = dm["channel_id"]
        await until(discord_api, lambda: answers(discord_api, channel) == 1, "the DM answer")
    assert discord_api.resumes == 1
    assert replied_to(discord_api, CHANNEL_ID) == [question["id"]]
    sample = bot.metrics.registry.get_sample_value
    assert sample("helpbot_duplicate_events_total", {"platform": "discord"}) == 1


MENTIONS = f"@everyone @here <@{USER_ID}> <@!{OTHER_USER_ID}> <@&{BOT_ROLE_ID}>"


def pings_no_one(message: dict[str, Any]) -> bool:
    return (
        message["mention_everyone"] is False
        and message["mentions"] == []
        and message["mention_roles"] == []
        and "@everyone" not in message["content"]
    )


async def test_ask_continuations_past_the_first_2000_characters_ping_no_one(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog, llm: OpenAIStandIn
) -> None:
    reply = "\n\n".join(
        f"Part {n}: {MENTIONS} segments go to object storage [1]. " * 8 for n in range(6)
    )
    llm.reply_with(reply)
    llm.stall_stream_after(deltas=3, seconds=1.2)  # an edit while it streams
    async with running(discord_api, generative(faq_bot, llm), feedback):
        await discord_api.slash_command("ask", {"question": "How is data stored in milvus?"})
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answer")
    creates = discord_api.calls_to("followup.create")
    assert len(creates) >= 3 and discord_api.calls_to("followup.edit")
    sends = [c for c in discord_api.calls if c.route.startswith("followup")]
    assert all(c.allowed_mentions == {"parse": []} for c in sends)
    assert all(pings_no_one(m) for m in discord_api.messages())


async def test_a_mention_answer_pings_no_one_in_its_reply_edits_or_continuations(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog, llm: OpenAIStandIn
) -> None:
    reply = "\n\n".join(
        f"Part {n}: {MENTIONS} segments go to object storage [1]. " * 8 for n in range(4)
    )
    llm.reply_with(reply)
    llm.stall_stream_after(deltas=3, seconds=1.2)
    async with running(discord_api, generative(faq_bot, llm), feedback):
        await discord_api.user_message(
            f"<@{BOT_USER_ID}> How is data stored in milvus?", mentions=[BOT_USER_ID]
        )
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answer")
    creates = discord_api.calls_to("messages.create")
    edits = discord_api.calls_to("messages.edit")
    assert len(creates) >= 2 and edits
    allowed = [c.allowed_mentions or {} for c in creates + edits]
    assert all(a.get("parse") == [] for a in allowed)
    assert allowed[0]["replied_user"] is False  # the reply does not ping the asker either
    assert all(pings_no_one(m) for m in bot_messages(discord_api))
