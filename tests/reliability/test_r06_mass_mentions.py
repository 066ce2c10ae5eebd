"""Case 6: mass mentions planted in documents, in questions and in the model's reply."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

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
from tests.support import generative, write

PINGS = "@everyone @here <!channel> <!here> <!everyone> <!subteam^S0TEAM> <@U0VIP> <@&1234> <@99>"
# What would notify people if it reached Slack unescaped.
SLACK_PING = re.compile(r"<!(channel|here|everyone|subteam\^)|<@[UW][A-Z0-9]+>")


@pytest.fixture
async def planted(make_settings, tmp_path: Path) -> AsyncIterator[Helpbot]:
    """A knowledge base whose document is full of mentions."""
    doc = write(
        tmp_path / "docs" / "oncall.md",
        f"# On-call\n\n## Who do I page for an outage?\n\nPage the on-call engineer. {PINGS}\n",
    )
    async with Helpbot(make_settings()) as bot:
        await bot.ingestor.sync([doc.parent], bot.ingest_options())
        yield bot


async def test_no_one_is_pinged_on_slack(
    planted: Helpbot, tmp_path: Path, ledger: Ledger, sent: list[Any]
) -> None:
    question = f"Who do I page for an outage? {PINGS}"
    with ledger.case("6. mass mentions", tried=2) as row:
        async with OpenAIStandIn() as llm:
            llm.default_reply = f"Page the on-call engineer [1]. {PINGS}"
            services = {
                "extractive": planted.service,
                "generative": generative(planted, llm, api_key=SECRETS["llm_api_key"]),
            }
            texts = []
            for n, service in enumerate(services.values()):
                async with http_slack(service, tmp_path / str(n), sent) as bot:
                    body = mention_body("1700600001.000001", channel="C0PING", text=question)
                    assert await bot.post(body, signed(body)) == 200
                    await bot.slack.wait_for("chat.stopStream", timeout=15)
                    texts += [json.dumps(call.params) for call in bot.slack.calls]
        pings = [match.group(0) for text in texts for match in SLACK_PING.finditer(text)]
        row.leaks = len(pings)
        assert pings == []
        assert not any('"link_names": true' in text for text in texts)


async def test_no_one_is_pinged_on_discord(
    planted: Helpbot, tmp_path: Path, ledger: Ledger, sent: list[Any]
) -> None:
    with ledger.case("6. mass mentions", tried=2) as row:
        async with discord_api(sent) as api, OpenAIStandIn() as llm:
            llm.default_reply = f"Page the on-call engineer [1]. {PINGS}"
            generated = generative(planted, llm, api_key=SECRETS["llm_api_key"])
            for service in (planted.service, generated):
                async with discord_bot(api, service, tmp_path):
                    before = len(api.calls_to("followup.create"))
                    await api.slash_command("ask", {"question": f"Who do I page? {PINGS}"})
                    await api.wait_for("followup.create", count=before + 1, timeout=15)
        messages = api.messages(CHANNEL_ID)
        pinged = [
            m
            for m in messages
            if m.get("mention_everyone") or m.get("mentions") or m.get("mention_roles")
        ]
        row.leaks = len(pinged)
        assert messages and pinged == []
