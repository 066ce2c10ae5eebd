"""What an operator sees: /readyz and /metrics on the Slack HTTP port after real conversations,
metrics from Discord, and JSON log lines tied together by a request id, with no secrets; and
what the public sees there: no metrics unless asked, no exception text in /readyz."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bots.ops.health import HealthServer
from bots.ops.logs import configure_logging
from bots.ops.metrics import Metrics
from bots.slack.app import SlackBot
from bots.slack.settings import SlackSettings
from core import Readiness
from core.answering.service import RagService, ServiceConfig
from core.container import Helpbot
from core.learning.sqlite_answer_log import SqliteAnswerLog
from core.messages import message
from tests.standins import slack_payloads as payloads
from tests.standins.openai_server import OpenAIStandIn
from tests.standins.slack_server import SlackStandIn
from tests.support import generative, http_get, post_event

CHANNEL, USER = "C0OPS", "U0OPS"
SECRET = "signing-secret-5ecr3t"
BOT_TOKEN = "xoxb-observability-t0ken"


class SlackOverHttp:
    """A SlackBot on its HTTP port, with the stand-in it posts to."""

    def __init__(self, slack: SlackStandIn, base: str, feedback: SqliteAnswerLog) -> None:
        self.slack = slack
        self.base = base
        self.feedback = feedback
        self._ts = 1700009000.0

    async def ask(self, question: str) -> str:
        """Post a signed mention; returns its ts once the answer (or error) was posted."""
        self._ts += 1
        ts = f"{self._ts:.6f}"
        body = json.dumps(
            payloads.app_mention(f"<@U0BOT> {question}", channel=CHANNEL, user=USER, ts=ts)
        ).encode()
        assert await post_event(self.base, body, payloads.signed_headers(body, SECRET)) == 200
        return ts

    async def counted(self, outcome: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The metrics once a question with `outcome` has been counted."""
        async with asyncio.timeout(10):
            while not questions(samples := await self.metrics(), outcome):
                await asyncio.sleep(0.05)
        return samples

    async def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, text = await http_get(f"{self.base}/metrics")
        assert status == 200
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }


@contextlib.asynccontextmanager
async def slack_over_http(
    service: RagService, tmp_path: Path, metrics_on_the_slack_port: bool = True
) -> AsyncIterator[SlackOverHttp]:
    async with SlackStandIn() as slack:
        feedback = SqliteAnswerLog(tmp_path / "feedback.sqlite")
        await feedback.start()
        settings = SlackSettings(
            _env_file=None,  # type: ignore[call-arg]
            slack_bot_token=BOT_TOKEN,  # type: ignore[arg-type]
            slack_signing_secret=SECRET,  # type: ignore[arg-type]
            slack_api_url=slack.api_url,
            slack_http_metrics=metrics_on_the_slack_port,
            slack_cooldown_s=0,
            slack_channel_questions_per_minute=0,
        )
        bot = SlackBot(settings, service, feedback, metrics=Metrics())
        port = await bot.start_http("127.0.0.1", 0)
        try:
            yield SlackOverHttp(slack, f"http://127.0.0.1:{port}", feedback)
        finally:
            await bot.stop()
            await feedback.stop()


@pytest.fixture
async def slack_http(faq_bot: Helpbot, tmp_path: Path) -> AsyncIterator[SlackOverHttp]:
    async with slack_over_http(faq_bot.service, tmp_path) as client:
        yield client


def questions(samples: dict, outcome: str) -> float:
    return samples.get(
        ("helpbot_questions_total", (("outcome", outcome), ("platform", "slack"))), 0.0
    )


async def test_metrics_count_a_conversation_by_outcome_and_stage(
    slack_http: SlackOverHttp,
) -> None:
    await slack_http.ask("How is data stored in milvus?")
    await slack_http.slack.wait_for("chat.stopStream", timeout=10)
    await slack_http.ask("What is a good recipe for banana bread?")
    await slack_http.slack.wait_for("chat.stopStream", count=2, timeout=10)
    samples = await slack_http.counted("dont_know")

    assert questions(samples, "answered") == 1
    assert questions(samples, "dont_know") == 1
    assert questions(samples, "error") == 0
    for stage in ("embed", "search", "generate"):
        assert samples[("helpbot_stage_seconds_count", (("stage", stage),))] == 2
    assert samples[("helpbot_answer_seconds_count", (("platform", "slack"),))] == 2
    assert samples[("helpbot_first_token_seconds_count", (("platform", "slack"),))] == 2


async def test_readiness_reports_milvus_and_the_answer_mode(slack_http: SlackOverHttp) -> None:
    status, body = await http_get(f"{slack_http.base}/readyz")
    assert status == 200
    assert json.loads(body) == {
        "status": "ready",
        "checks": {"milvus": "ok", "answers": "extractive"},
    }


async def test_the_public_slack_port_serves_no_metrics_unless_asked(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    async with slack_over_http(faq_bot.service, tmp_path, metrics_on_the_slack_port=False) as bot:
        # Load balancers still find health and readiness beside /slack/events.
        assert (await http_get(f"{bot.base}/healthz"))[0] == 200
        assert (await http_get(f"{bot.base}/readyz"))[0] == 200
        assert (await http_get(f"{bot.base}/metrics"))[0] == 404


async def test_readiness_names_the_failing_check_and_logs_the_exception_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = "Milvus: <_InactiveRpcError of RPC that terminated with: ipv4:10.2.3.4:19530>"

    async def failing() -> Readiness:
        return Readiness(False, {"answers": "generative", "milvus": raw})

    server = HealthServer(failing, Metrics())
    port = await server.start("127.0.0.1", 0)
    try:
        with caplog.at_level(logging.WARNING, logger="bots.ops.health"):
            status, body = await http_get(f"http://127.0.0.1:{port}/readyz")
            await http_get(f"http://127.0.0.1:{port}/readyz")
    finally:
        await server.stop()
    assert status == 503
    assert json.loads(body) == {
        "status": "not ready",
        "checks": {"answers": "generative", "milvus": "not ready"},
    }
    # The operator finds the reason in the log, once while it stays the same.
    assert [r.getMessage() for r in caplog.records if raw in r.getMessage()] == [
        f"readiness check milvus failed: {raw}"
    ]


@pytest.fixture
async def llm() -> AsyncIterator[OpenAIStandIn]:
    async with OpenAIStandIn() as server:
        yield server


async def test_a_failed_answer_is_counted_as_an_error(
    faq_bot: Helpbot, llm: OpenAIStandIn, tmp_path: Path
) -> None:
    llm.fail_with(500, times=2, retry_after=0.01)
    async with slack_over_http(generative(faq_bot, llm), tmp_path) as client:
        await client.ask("How is data stored in milvus?")
        [post] = await client.slack.wait_for("chat.postMessage", timeout=10)
        samples = await client.metrics()
    assert post.params["text"].startswith("Sorry")
    assert questions(samples, "error") == 1 and questions(samples, "answered") == 0


async def test_json_logs_share_a_request_id_and_hold_no_secret_or_question(
    slack_http: SlackOverHttp, capfd: pytest.CaptureFixture[str]
) -> None:
    configure_logging(logging.INFO, "json")
    try:
        question = "How is data stored in milvus?"
        await slack_http.ask(question)
        await slack_http.slack.wait_for("chat.stopStream", timeout=10)
        # The closing log line is written right after the answer is counted.
        await slack_http.counted("answered")
    finally:
        configure_logging(logging.WARNING)
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line]
    answering = [line for line in lines if line["logger"] == "bots.answering"]
    assert [line["message"].split()[0] for line in answering] == ["question", "answered"]
    assert len({line["request_id"] for line in answering}) == 1
    assert answering[0]["request_id"] != "-"
    everything = json.dumps(lines)
    for secret in (SECRET, BOT_TOKEN, question):
        assert secret not in everything


async def test_an_unsure_answer_is_counted_and_shown_with_its_warning(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    unsure = RagService(faq_bot.embedder, faq_bot.store, None, ServiceConfig(unsure_below=0.99))
    async with slack_over_http(unsure, tmp_path) as client:
        await client.ask("How is data stored in milvus?")
        await client.slack.wait_for("chat.stopStream", timeout=10)
        samples = await client.counted("unsure")
        shown = json.dumps([call.params for call in client.slack.calls], ensure_ascii=False)
    assert questions(samples, "unsure") == 1 and questions(samples, "answered") == 0
    assert message("unsure_intro", "en")[:30] in shown
