"""Case 3: the language model rate-limits (429 + Retry-After), fails (5xx) and hangs.

The bot is built the way production builds it: settings read from the environment, the
openai client made by the composition root from LLM_MAX_RETRIES and LLM_TIMEOUT_S. The
failures are sized to the documented retry count, so a client that retries more or less
than the setting says turns an apology into an answer, or an answer into an apology."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.container import Helpbot
from core.settings import load_settings
from tests.reliability.fake_secrets import SECRETS
from tests.reliability.harness import http_slack, mention_body, signed
from tests.reliability.ledger import Ledger
from tests.standins.openai_server import OpenAIStandIn
from tests.support import PROJECT_ROOT


def documented_max_retries() -> int:
    """LLM_MAX_RETRIES as `.env.example` documents its default."""
    example = (PROJECT_ROOT / ".env.example").read_text()
    found = re.search(r"^# LLM_MAX_RETRIES=(\d+)$", example, re.M)
    assert found, "LLM_MAX_RETRIES is not documented in .env.example"
    return int(found.group(1))


async def test_every_question_gets_an_answer_or_a_friendly_error_with_bounded_retries(
    faq_bot: Helpbot,
    tmp_path: Path,
    ledger: Ledger,
    sent: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    retries = documented_max_retries()
    scripts: dict[str, Callable[[OpenAIStandIn], None]] = {
        "rate limited once": lambda llm: llm.fail_with(429, retry_after=0.2),
        "server errors": lambda llm: llm.fail_with(500, times=retries + 1),
        "hangs": lambda llm: llm.hang(30, times=retries + 1),
    }
    with ledger.case("3. LLM 429, 5xx, hang", tried=len(scripts)) as row:
        async with OpenAIStandIn() as llm:
            llm.default_reply = "Milvus keeps data in object storage such as MinIO or S3 [1]."
            environment = {
                "MILVUS_URI": faq_bot.settings.milvus_uri,
                "LLM_BASE_URL": llm.base_url,
                "LLM_API_KEY": SECRETS["llm_api_key"],
                "LLM_TIMEOUT_S": "1",
                # Room for every try of the hang (1 s each) and the client's backoff between.
                "ANSWER_DEADLINE_S": str(4 * (retries + 1)),
            }
            for name, value in environment.items():
                monkeypatch.setenv(name, value)
            core = Helpbot(load_settings(), embedder=faq_bot.embedder)
            # One asker asks all three, faster than the Slack cooldown allows.
            slack = http_slack(core.service, tmp_path, sent, slack_cooldown_s=0)
            async with core, slack as bot:
                outcomes, requests = {}, {}
                for n, (name, script) in enumerate(scripts.items()):
                    script(llm)
                    before = len(llm.chat_calls())
                    body = mention_body(f"1700300{n:03d}.000001", channel=f"C0LLM{n}")
                    assert await bot.post(body, signed(body)) == 200
                    outcomes[name] = await bot.reply_in(f"C0LLM{n}")
                    requests[name] = len(llm.chat_calls()) - before
        sent.extend(call.json for call in llm.calls)
        row.lost = sum(1 for text in outcomes.values() if not text)
        assert outcomes["rate limited once"] == "answer"
        for name in ("server errors", "hangs"):
            assert outcomes[name].startswith("Sorry"), outcomes
            assert "Traceback" not in outcomes[name]
        # One try and exactly the configured retries; the rate-limited one needed one retry.
        assert requests == {
            "rate limited once": 2,
            "server errors": 1 + retries,
            "hangs": 1 + retries,
        }
