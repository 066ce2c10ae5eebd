"""Case 2: every question delivered four times (retries 1-3), and as app_mention + message."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from core.container import Helpbot
from tests.reliability.harness import http_slack, mention_body, signed
from tests.reliability.ledger import Ledger
from tests.standins import slack_payloads as payloads

QUESTIONS = 8


async def test_each_question_is_answered_once_however_often_it_arrives(
    faq_bot: Helpbot, tmp_path: Path, ledger: Ledger, sent: list[Any]
) -> None:
    with ledger.case("2. redelivered events", tried=QUESTIONS) as row:
        async with http_slack(faq_bot.service, tmp_path, sent) as bot:
            deliveries = []
            for n in range(QUESTIONS):
                ts, event_id = f"1700200{n:03d}.000001", f"EvREL{n:06d}"
                body = mention_body(ts, channel=f"C0RED{n}", event_id=event_id)
                deliveries.append((body, {}))
                deliveries += [(body, {"retry_num": r}) for r in (1, 2, 3)]
                # The same message as a `message` event (Slack sends both for a mention); a
                # "reply" in its own thread is a plain channel message.
                message = payloads.thread_reply(
                    f"<@U0BOT> question {n}", channel=f"C0RED{n}", user="U0ASK", ts=ts, thread_ts=ts
                )
                deliveries.append((json.dumps(message).encode(), {}))
            statuses = await asyncio.gather(
                *(bot.post(body, signed(body, **retry)) for body, retry in deliveries)
            )
            await bot.slack.wait_for("chat.stopStream", count=QUESTIONS, timeout=30)
            # One more question after them all, answered: proof every delivery was handled.
            last = mention_body("1700299999.000001", channel="C0REDLAST")
            await bot.post(last, signed(last))
            await bot.slack.wait_for("chat.stopStream", count=QUESTIONS + 1, timeout=30)
            answered = [call.params["channel"] for call in bot.slack.calls_to("chat.startStream")]
            row.duplicates = len(answered) - len(set(answered))
            row.lost = QUESTIONS + 1 - len(set(answered))
        assert set(statuses) == {200}
        assert sorted(answered) == sorted([f"C0RED{n}" for n in range(QUESTIONS)] + ["C0REDLAST"])
