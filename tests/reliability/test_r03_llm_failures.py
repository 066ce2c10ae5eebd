"""Case 3: the language model rate-limits (429 + Retry-After), fails (5xx) and hangs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.container import Helpbot
from tests.reliability.fake_secrets import SECRETS
from tests.reliability.harness import http_slack, mention_body, signed
from tests.reliability.ledger import Ledger
from tests.standins.openai_server import OpenAIStandIn
from tests.support import generative

MAX_RETRIES = 1  # what support.generative gives the openai client


async def test_every_question_gets_an_answer_or_a_friendly_error_with_bounded_retries(
    faq_bot: Helpbot, tmp_path: Path, ledger: Ledger, sent: list[Any]
) -> None:
    scripts: dict[str, Callable[[OpenAIStandIn], None]] = {
        "rate limited once": lambda llm: llm.fail_with(429, retry_after=0.2),
        "server errors": lambda llm: llm.fail_with(500, times=MAX_RETRIES + 1),
        "hangs": lambda llm: llm.hang(30, times=MAX_RETRIES + 1),
    }
    with ledger.case("3. LLM 429, 5xx, hang", tried=len(scripts)) as row:
        async with OpenAIStandIn() as llm:
            llm.default_reply = "Milvus keeps data in object storage such as MinIO or S3 [1]."
            service = generative(
                faq_bot, llm, timeout=1.0, deadline_s=5.0, api_key=SECRETS["llm_api_key"]
            )
            async with http_slack(service, tmp_path, sent) as bot:
                outcomes = {}
                for n, (name, script) in enumerate(scripts.items()):
                    script(llm)
                    body = mention_body(f"1700300{n:03d}.000001", channel=f"C0LLM{n}")
                    assert await bot.post(body, signed(body)) == 200
                    outcomes[name] = await bot.reply_in(f"C0LLM{n}")
            requests = len(llm.chat_calls())
        sent.extend(call.json for call in llm.calls)
        row.lost = sum(1 for text in outcomes.values() if not text)
        assert outcomes["rate limited once"] == "answer"
        for name in ("server errors", "hangs"):
            assert outcomes[name].startswith("Sorry"), outcomes
            assert "Traceback" not in outcomes[name]
        assert requests <= len(scripts) * (1 + MAX_RETRIES)
