"""A question in another language, asked on Slack and on Discord through the real clients and
the stand-ins, is answered with that language's fixed strings."""

from __future__ import annotations

from pathlib import Path

from core.container import Helpbot
from core.learning.sqlite_answer_log import SqliteAnswerLog
from core.messages import message
from tests.standins.discord_server import DiscordStandIn
from tests.standins.openai_server import OpenAIStandIn
from tests.standins.slack_server import SlackStandIn
from tests.support import generative
from tests.test_discord_bot import final_message, has_buttons, until
from tests.test_discord_bot import running as running_on_discord
from tests.test_slack_bot import running as running_on_slack
from tests.test_slack_bot import streamed_text


def intros(language: str) -> tuple[str, str]:
    """How an extractive answer opens in `language`, sure or unsure of its passages."""
    return message("extractive_intro", language), message("unsure_intro", language)


async def test_a_korean_mention_on_slack_is_answered_with_korean_fixed_strings(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    async with (
        SlackStandIn() as slack,
        running_on_slack(slack, faq_bot.service, tmp_path) as harness,
    ):
        await harness.mention("<@U0BOT> Milvus는 데이터를 어디에 저장하나요?")
        await slack.wait_for("chat.stopStream")
    assert streamed_text(slack).startswith(intros("ko"))


async def test_a_french_question_on_slack_gets_a_french_apology_when_the_model_fails(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    async with OpenAIStandIn() as llm:
        llm.fail_with(500, times=2, retry_after=0.01)
        async with (
            SlackStandIn() as slack,
            running_on_slack(slack, generative(faq_bot, llm), tmp_path) as harness,
        ):
            await harness.mention("<@U0BOT> Où Milvus stocke-t-il les données ?")
            [post] = await slack.wait_for("chat.postMessage", timeout=10)
    assert post.params["text"] == message("model_failed", "fr")


async def test_a_german_ask_on_discord_is_answered_with_german_fixed_strings(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    async with running_on_discord(discord_api, faq_bot.service, feedback):
        await discord_api.slash_command("ask", {"question": "Wo speichert Milvus die Daten?"})
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answer")
    assert final_message(discord_api)["content"].startswith(intros("de"))


async def test_a_spanish_question_the_docs_do_not_cover_gets_a_spanish_dont_know_on_discord(
    discord_api: DiscordStandIn, faq_bot: Helpbot, feedback: SqliteAnswerLog
) -> None:
    async with running_on_discord(discord_api, faq_bot.service, feedback):
        await discord_api.slash_command(
            "ask", {"question": "¿Cuál es una buena receta de pan de plátano?"}
        )
        await until(discord_api, lambda: has_buttons(final_message(discord_api)), "the answer")
    assert final_message(discord_api)["content"] == message("dont_know", "es")
