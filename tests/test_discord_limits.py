"""Fair limits on Discord beside the per-user cooldown: a per-channel budget of questions a
minute, shared through Redis like the cooldown; past it, the asker alone is asked to wait."""

from __future__ import annotations

from core.container import Helpbot
from core.learning.sqlite_answer_log import SqliteAnswerLog
from tests.standins.discord_payloads import OTHER_USER_ID, OWNER_ID, USER_ID
from tests.standins.discord_server import DiscordStandIn
from tests.test_discord_bot import final_message, has_buttons, running, until


async def test_a_busy_channel_past_its_budget_is_asked_to_wait(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    """Three people, one channel, a budget of two a minute: the third is told to wait, only
    they see it, and only two answers are written."""
    async with running(
        discord_api,
        faq_bot.service,
        feedback,
        discord_cooldown_s=0,
        discord_channel_questions_per_minute=2,
    ):
        for user in (USER_ID, OTHER_USER_ID, OWNER_ID):
            await discord_api.slash_command(
                "ask", {"question": "How is data stored in milvus?"}, user_id=user
            )
        await discord_api.wait_for("interaction.callback", count=3)
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answers")
        await discord_api.wait_for("followup.create", count=2)
    callbacks = discord_api.calls_to("interaction.callback")
    refused = [c for c in callbacks if c.json["type"] == 4]
    assert [c.json["type"] for c in callbacks].count(5) == 2
    [note] = refused
    assert note.json["data"]["flags"] & 64  # ephemeral: only the asker sees it
    assert note.json["data"]["content"].startswith("Please wait")
    assert len(discord_api.calls_to("followup.create")) == 2
