"""Case 7: a very long answer citing many sources: every platform limit is met, no 400s."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.container import Helpbot
from tests.reliability.fake_secrets import SECRETS
from tests.reliability.harness import (
    discord_api,
    discord_bot,
    http_slack,
    mention_body,
    signed,
)
from tests.reliability.ledger import Ledger
from tests.standins.discord_payloads import CHANNEL_ID
from tests.standins.openai_server import OpenAIStandIn
from tests.support import generative

# About 45,000 characters, citing twenty sources: over Slack's 40,000 and Discord's 2,000.
REPLY = " ".join(f"Point {i}: data is kept in object storage [{i % 20 + 1}]." for i in range(900))
LAST_POINT = "Point 899"


async def test_a_long_answer_with_many_sources_meets_slack_limits(
    faq_bot: Helpbot, tmp_path: Path, ledger: Ledger, sent: list[Any]
) -> None:
    with ledger.case("7. oversized answers, many sources", tried=1) as row:
        async with OpenAIStandIn() as llm:
            llm.default_reply = REPLY
            service = generative(
                faq_bot, llm, top_k=20, relevance_threshold=0.0, api_key=SECRETS["llm_api_key"]
            )
            async with http_slack(service, tmp_path, sent) as bot:
                body = mention_body("1700700001.000001", channel="C0LONG")
                assert await bot.post(body, signed(body)) == 200
                # Several messages, each closed by its own stopStream; the last has the sources.
                await bot.slack.wait_until(
                    lambda: any(
                        c.method == "chat.stopStream" and c.params.get("blocks")
                        for c in bot.slack.calls
                    ),
                    60,
                    "the answer's last message",
                )
                shown = json.dumps([call.params for call in bot.slack.calls])
                # Refused message calls (a 400-class answer each). The 👀 reaction is refused
                # too, as the stand-in never saw the question (it came over HTTP): not a message.
                refused = [r for r in bot.slack.refusals if r[0] != "reactions.add"]
                row.lost = len(refused) + (0 if LAST_POINT in shown else 1)
                assert refused == []
                assert row.lost == 0


async def test_a_long_answer_with_many_sources_meets_discord_limits(
    faq_bot: Helpbot, tmp_path: Path, ledger: Ledger, sent: list[Any]
) -> None:
    with ledger.case("7. oversized answers, many sources", tried=1) as row:
        async with discord_api(sent) as api, OpenAIStandIn() as llm:
            llm.default_reply = REPLY
            service = generative(faq_bot, llm, top_k=20, relevance_threshold=0.0)
            async with discord_bot(api, service, tmp_path):
                await api.slash_command("ask", {"question": "How is data stored?"})
                await api.wait_until(
                    lambda: any(m.get("components") for m in api.messages(CHANNEL_ID)),
                    timeout=60,
                    what="the answer with its buttons",
                )
            refused = [
                call for call in api.calls if 400 <= call.status < 500 and call.status != 429
            ]
            shown = json.dumps(api.messages(CHANNEL_ID))
            row.lost = len(refused) + (0 if LAST_POINT in shown else 1)
        assert refused == [] and LAST_POINT in shown
