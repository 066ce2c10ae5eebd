"""Case 12: empty, huge, control-character and mention-only questions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.container import Helpbot
from tests.reliability.harness import http_slack, mention_body, signed
from tests.reliability.ledger import Ledger

BAD = {
    "only a mention": "",
    "whitespace": " \t\n ",
    "100 KB": "why " * 25_000,
    "control characters": "\x00\x07\x1b[31mHow is data stored?\x1b[0m\x08",
    "punctuation only": "?!?!...",
}


async def test_each_bad_question_gets_a_clear_reply_and_the_bot_keeps_answering(
    faq_bot: Helpbot, tmp_path: Path, ledger: Ledger, sent: list[Any]
) -> None:
    with ledger.case("12. bad questions", tried=len(BAD)) as row:
        async with http_slack(faq_bot.service, tmp_path, sent) as bot:
            channels = {}
            for n, (name, text) in enumerate(BAD.items()):
                channels[name] = f"C0BAD{n}"
                body = mention_body(f"1701200{n:03d}.000001", channel=f"C0BAD{n}", text=text)
                assert await bot.post(body, signed(body)) == 200
            good = mention_body("1701299999.000001", channel="C0GOOD")
            assert await bot.post(good, signed(good)) == 200
            await bot.slack.wait_until(
                lambda: all(bot.answers(channel) for channel in [*channels.values(), "C0GOOD"]),
                timeout=30,
                what="a reply to every question",
            )
            replies = {
                name: " ".join(
                    str(call.params.get("text") or call.params.get("markdown_text") or "")
                    for call in bot.answers(channel)
                )
                for name, channel in channels.items()
            }
            row.lost = sum(1 for channel in channels.values() if not bot.answers(channel))
        for name in ("only a mention", "whitespace", "100 KB", "punctuation only"):
            assert replies[name] and "Traceback" not in replies[name], (name, replies[name])
        assert "\x00" not in str(replies) and "\x1b" not in str(replies)
