"""Case 5: Slack answers 429 to chat.postMessage and chat.update, Discord to follow-ups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.container import Helpbot
from tests.reliability.harness import (
    discord_api,
    discord_bot,
    http_slack,
    mention_body,
    signed,
)
from tests.reliability.ledger import Ledger
from tests.standins.discord_payloads import CHANNEL_ID

QUESTIONS = 3


async def test_slack_rate_limits_lose_nothing(
    faq_bot: Helpbot, tmp_path: Path, ledger: Ledger, sent: list[Any]
) -> None:
    with ledger.case("5. platform rate limits (429)", tried=QUESTIONS) as row:
        # Without streaming the answer is posted, then updated: both methods rate-limited.
        async with http_slack(faq_bot.service, tmp_path, sent) as bot:
            bot.slack.streaming_available = False
            bot.slack.fail_with("chat.postMessage", status=429, retry_after=0, times=2)
            bot.slack.fail_with("chat.update", status=429, retry_after=0, times=2)
            for n in range(QUESTIONS):
                body = mention_body(f"1700500{n:03d}.000001", channel=f"C0RATE{n}")
                assert await bot.post(body, signed(body)) == 200
            await bot.slack.wait_until(
                lambda: all(
                    any(
                        call.params.get("channel") == f"C0RATE{n}" and call.params.get("blocks")
                        for call in bot.slack.calls_to("chat.update")
                    )
                    for n in range(QUESTIONS)
                ),
                timeout=60,
                what="every answer completed with its sources",
            )
            posted = {call.params["channel"] for call in bot.slack.calls_to("chat.postMessage")}
            row.lost = QUESTIONS - len({c for c in posted if c.startswith("C0RATE")})
            assert row.lost == 0


async def test_discord_rate_limits_lose_nothing(
    faq_bot: Helpbot, tmp_path: Path, ledger: Ledger, sent: list[Any]
) -> None:
    with ledger.case("5. platform rate limits (429)", tried=QUESTIONS) as row:
        async with discord_api(sent) as api:
            api.fail_with("followup.create", retry_after=0.05, times=2)
            async with discord_bot(api, faq_bot.service, tmp_path):
                for _ in range(QUESTIONS):
                    await api.slash_command("ask", {"question": "How is data stored?"})
                await api.wait_until(
                    lambda: (
                        sum(
                            1
                            for m in api.messages(CHANNEL_ID)
                            if any(c.get("components") for c in m.get("components", []))
                        )
                        >= QUESTIONS
                    ),
                    timeout=60,
                    what="every answer with its vote buttons",
                )
            answered = [m for m in api.messages(CHANNEL_ID) if m.get("components")]
            row.lost = QUESTIONS - len(answered)
        assert row.lost == 0
