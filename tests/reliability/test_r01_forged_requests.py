"""Case 1: forged, stale, malformed and replayed Slack requests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from harness import http_slack, mention_body, signed
from ledger import Ledger

from core.container import Helpbot


async def test_forged_requests_are_refused_and_reach_no_listener(
    faq_bot: Helpbot, tmp_path: Path, ledger: Ledger, sent: list[Any]
) -> None:
    now = int(time.time())
    body = mention_body("1700100001.000001")
    forged = {
        "bad signature": (body, {**signed(body), "X-Slack-Signature": "v0=" + "0" * 64}),
        "no headers": (body, {}),
        "timestamp 301 s old": (body, signed(body, now - 301)),
        "timestamp 301 s ahead": (body, signed(body, now + 301)),
        "one byte changed": (body.replace(b"stored", b"storeD"), signed(body)),
        "not JSON": (b"{not json", signed(b"{not json")),
        "huge body": (big := b'{"x": "' + b"a" * 2_000_000 + b'"}', signed(big)),
    }
    with ledger.case("1. forged Slack requests", tried=len(forged)) as row:
        async with http_slack(faq_bot.service, tmp_path, sent) as bot:
            statuses = {name: await bot.post(b, h) for name, (b, h) in forged.items()}
            row.leaks = len(bot.answers())  # a forged request answered is a leak
        assert all(400 <= status < 500 for status in statuses.values()), statuses
        assert bot.answers() == []


async def test_signed_requests_at_the_edge_of_the_window_and_replays(
    faq_bot: Helpbot, tmp_path: Path, ledger: Ledger, sent: list[Any]
) -> None:
    now = int(time.time())
    with ledger.case("1. forged Slack requests", tried=4) as row:
        async with http_slack(faq_bot.service, tmp_path, sent) as bot:
            early, late = mention_body("1700100002.000001"), mention_body("1700100003.000001")
            assert await bot.post(early, signed(early, now - 299)) == 200
            assert await bot.post(late, signed(late, now + 299)) == 200
            # The same signed request again inside the window: accepted, answered once.
            assert await bot.post(early, signed(early, now - 299)) == 200
            await bot.slack.wait_for("chat.stopStream", count=2, timeout=15)
            # ...and once it is older than five minutes: refused.
            replay = await bot.post(early, signed(early, now - 301))
            streams = bot.slack.calls_to("chat.startStream")
            row.duplicates = len(streams) - 2
            row.lost = 2 - len({call.params["thread_ts"] for call in streams})
        assert replay == 401
        assert sorted(call.params["thread_ts"] for call in streams) == [
            "1700100002.000001",
            "1700100003.000001",
        ]
