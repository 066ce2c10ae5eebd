"""Case 1: forged, stale, malformed and replayed Slack requests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.container import Helpbot
from tests.reliability.harness import http_slack, mention_body, signed
from tests.reliability.ledger import Ledger


async def test_forged_requests_are_refused_and_reach_no_listener(
    faq_bot: Helpbot, tmp_path: Path, ledger: Ledger, sent: list[Any]
) -> None:
    body = mention_body("1700100001.000001")
    big = b'{"x": "' + b"a" * 2_000_000 + b'"}'
    # Headers are made just before each request, so the clock is the one Slack would use.
    forged: dict[str, tuple[bytes, Callable[[], dict[str, str]]]] = {
        "bad signature": (body, lambda: {**signed(body), "X-Slack-Signature": "v0=" + "0" * 64}),
        "no headers": (body, dict),
        "timestamp 301 s old": (body, lambda: signed(body, int(time.time()) - 301)),
        "timestamp 301 s ahead": (body, lambda: signed(body, int(time.time()) + 301)),
        "one byte changed": (body.replace(b"stored", b"storeD"), lambda: signed(body)),
        "not JSON": (b"{not json", lambda: signed(b"{not json")),
        "huge body": (big, lambda: signed(big)),
        # A timestamp that is not a number: refused as unsigned, not a server error.
        "timestamp not a number": (
            body,
            lambda: {**signed(body), "X-Slack-Request-Timestamp": "soon"},
        ),
    }
    with ledger.case("1. forged Slack requests", tried=len(forged)) as row:
        async with http_slack(faq_bot.service, tmp_path, sent) as bot:
            statuses = {name: await bot.post(b, h()) for name, (b, h) in forged.items()}
            row.leaks = len(bot.answers())  # a forged request answered is a leak
        assert all(400 <= status < 500 for status in statuses.values()), statuses
        assert statuses["timestamp not a number"] == 401
        assert bot.answers() == []


async def test_signed_requests_at_the_edge_of_the_window_and_replays(
    faq_bot: Helpbot, tmp_path: Path, ledger: Ledger, sent: list[Any]
) -> None:
    with ledger.case("1. forged Slack requests", tried=5) as row:
        async with http_slack(faq_bot.service, tmp_path, sent) as bot:
            first = mention_body("1700100002.000001")
            headers = signed(first, int(time.time()) - 200)
            assert await bot.post(first, headers) == 200
            # The very same request again, still inside the window: accepted, answered once.
            assert await bot.post(first, headers) == 200
            # At the edges of the five-minute window: answered.
            early, late = mention_body("1700100003.000001"), mention_body("1700100004.000001")
            assert await bot.post(early, signed(early, int(time.time()) - 299)) == 200
            assert await bot.post(late, signed(late, int(time.time()) + 299)) == 200
            await bot.slack.wait_for("chat.stopStream", count=3, timeout=15)
            # The same body once its timestamp is more than five minutes old: refused.
            replay = await bot.post(first, signed(first, int(time.time()) - 301))
            streams = bot.slack.calls_to("chat.startStream")
            row.duplicates = len(streams) - len({call.params["thread_ts"] for call in streams})
            row.lost = 3 - len({call.params["thread_ts"] for call in streams})
        assert replay == 401
        assert sorted(call.params["thread_ts"] for call in streams) == [
            "1700100002.000001",
            "1700100003.000001",
            "1700100004.000001",
        ]
