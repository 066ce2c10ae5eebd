"""Several bot processes, one Redis: each event answered once, one rate limit, one feedback
store. Against a real `redis-server`, and with two real `helpbot slack --http` processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bots.slack.app import SlackBot
from bots.slack.format import VOTE_UP
from bots.slack.settings import SlackSettings
from bots.state.event_dedup import RedisEventDeduplicator
from bots.state.rate_limits import LocalChannelBudget, RedisChannelBudget, RedisRateLimiter
from bots.state.shared import SharedState
from core.container import Helpbot
from core.errors import SharedStateError
from core.learning.sqlite_answer_log import SqliteAnswerLog
from core.redis_client import connect_redis
from tests.milvus_servers.servers import MilvusServer
from tests.standins import slack_payloads as payloads
from tests.standins.slack_server import SlackStandIn
from tests.support import PROJECT_ROOT, free_port, http_get, post_event, running_redis

SECRET = "two-process-signing-secret"
HELPBOT = str(Path(sys.executable).with_name("helpbot"))


async def test_of_two_processes_racing_for_the_same_events_exactly_one_claims_each(
    redis_url: str,
) -> None:
    first, second = await connect_redis(redis_url), await connect_redis(redis_url)
    try:
        mine = RedisEventDeduplicator(first, "helpbot:slack:seen:")
        theirs = RedisEventDeduplicator(second, "helpbot:slack:seen:")
        events = [(f"event:E{i}", f"message:C1:{i}.0") for i in range(200)]
        claims = await asyncio.gather(
            *(bot.claim(*keys) for keys in events for bot in (mine, theirs))
        )
        assert sum(claims) == len(events)
        assert all(a != b for a, b in zip(claims[::2], claims[1::2], strict=True))
        # All or nothing: a claim that loses on one key holds none of the others.
        assert not await mine.claim("message:C1:0.0", "event:NEW")
        assert await theirs.claim("event:NEW")
    finally:
        await first.aclose()
        await second.aclose()


async def test_the_rate_limit_holds_across_processes_and_a_refusal_does_not_extend_it(
    redis_url: str,
) -> None:
    first, second = await connect_redis(redis_url), await connect_redis(redis_url)
    try:
        here = RedisRateLimiter(first, "helpbot:discord:cooldown:", per_s=0.5)
        there = RedisRateLimiter(second, "helpbot:discord:cooldown:", per_s=0.5)
        assert await here.retry_after("u1") == 0
        assert await there.retry_after("u2") == 0  # other users are not slowed down
        wait = await there.retry_after("u1")
        assert 0 < wait <= 0.5
        await asyncio.sleep(0.2)
        assert 0 < await here.retry_after("u1") < wait  # counting down, not restarted
        await asyncio.sleep(0.35)
        assert await there.retry_after("u1") == 0
    finally:
        await first.aclose()
        await second.aclose()


async def test_the_channel_budget_holds_across_processes(redis_url: str) -> None:
    first, second = await connect_redis(redis_url), await connect_redis(redis_url)
    try:
        here = RedisChannelBudget(first, "helpbot:slack:channel:", per_minute=3)
        there = RedisChannelBudget(second, "helpbot:slack:channel:", per_minute=3)
        waits = [await budget.retry_after("C1") for budget in (here, there, here, there)]
        assert waits[:3] == [0, 0, 0]
        assert 59 < waits[3] <= 60  # the minute began with the first question
        assert await here.retry_after("C2") == 0  # other channels have their own budget
        assert await RedisChannelBudget(first, "x:", per_minute=0).retry_after("C1") == 0
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_channel_budget_in_memory_refills_after_its_minute() -> None:
    now = [0.0]
    budget = LocalChannelBudget(per_minute=2, clock=lambda: now[0])
    assert [await budget.retry_after("C1") for _ in range(2)] == [0, 0]
    now[0] = 45.0
    assert await budget.retry_after("C1") == 15.0
    assert await budget.retry_after("C2") == 0
    now[0] = 60.0
    assert await budget.retry_after("C1") == 0


async def test_a_thread_one_process_answered_in_is_followed_up_by_another(
    redis_url: str, faq_bot: Helpbot, tmp_path: Path
) -> None:
    """The threads the bot answered in are remembered in Redis: after a restart, or on
    another process, a reply there without a mention is still a follow-up."""
    channel, thread = "C0REDIS", "1700000900.000001"
    async with SlackStandIn() as slack:
        feedback = SqliteAnswerLog(tmp_path / "feedback.sqlite")
        await feedback.start()
        settings = SlackSettings(
            _env_file=None,  # type: ignore[call-arg]
            slack_bot_token="xoxb-test",  # type: ignore[arg-type]
            slack_app_token="xapp-1-test",  # type: ignore[arg-type]
            slack_api_url=slack.api_url,
        )
        mention = payloads.app_mention(
            "<@U0BOT> How is data stored in milvus?", channel=channel, user="U0A", ts=thread
        )
        reply = payloads.thread_reply(
            "and where are the indexes kept?",
            channel=channel,
            user="U0B",
            ts="1700000901.000001",
            thread_ts=thread,
        )
        for process, body in enumerate([mention, reply], start=1):  # a process each
            async with SharedState(redis_url) as state:
                bot = SlackBot(settings, faq_bot.service, feedback, state=state)
                await bot.start_socket_mode()
                await slack.wait_connected(count=process)
                await slack.push("events_api", body)
                await slack.wait_for("chat.stopStream", count=process, timeout=30)
                await bot.stop()
        await feedback.stop()
    starts = slack.calls_to("chat.startStream")
    assert [call.params["thread_ts"] for call in starts] == [thread, thread]
    assert [call.params["recipient_user_id"] for call in starts] == ["U0A", "U0B"]


async def test_while_redis_is_down_questions_are_still_answered(tmp_path: Path) -> None:
    with running_redis(tmp_path) as url:
        client = await connect_redis(url)
        memory = RedisEventDeduplicator(client, "helpbot:slack:seen:")
        limit = RedisRateLimiter(client, "helpbot:slack:cooldown:", per_s=60)
        budget = RedisChannelBudget(client, "helpbot:slack:channel:", per_minute=1)
        assert await memory.claim("event:E1") and await limit.retry_after("u1") == 0
        assert await budget.retry_after("C1") == 0
    try:  # the server is gone now
        assert await memory.claim("event:E1") and await memory.claim("event:E1")
        assert await limit.retry_after("u1") == 0
        assert await budget.retry_after("C1") == 0
    finally:
        await client.aclose()


async def test_an_unreachable_redis_is_one_clear_error_at_start() -> None:
    with pytest.raises(SharedStateError, match="REDIS_URL"):
        await SharedState(f"redis://127.0.0.1:{free_port()}/0").start()


# --- two `helpbot slack --http` processes behind one Slack ---------------------------------


@pytest.fixture
async def faq_on_lite_server(
    milvus_lite_server: MilvusServer, embedding_cache: Path, tmp_path: Path
) -> str:
    """An FAQ collection on the milvus-lite server, for bot processes to share; its name."""
    env = _bot_env(milvus_lite_server.uri, "", "", embedding_cache, tmp_path)
    faq = Path(os.environ.get("HELPBOT_SHARED_DIR", PROJECT_ROOT.parent / "shared"))
    done = await asyncio.create_subprocess_exec(
        HELPBOT,
        "ingest",
        str(faq / "corpus" / "milvus-docs-2.4.x" / "faq"),
        env=env,
        cwd=tmp_path,
    )
    assert await done.wait() == 0
    return env["MILVUS_COLLECTION"]


def _bot_env(
    milvus_uri: str, redis_url: str, slack_api_url: str, cache: Path, tmp_path: Path
) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "MILVUS_URI": milvus_uri,
        "MILVUS_COLLECTION": f"shared_{tmp_path.name.replace('-', '_')}",
        "EMBEDDING_CACHE_PATH": str(cache),
        "REDIS_URL": redis_url,
        "SLACK_BOT_TOKEN": "xoxb-two-processes",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack_api_url,
        "SLACK_HTTP_METRICS": "true",  # the tests read each process's /metrics on its Slack port
    }


@pytest.fixture
async def two_bots(
    faq_on_lite_server: str,
    milvus_lite_server: MilvusServer,
    redis_url: str,
    embedding_cache: Path,
    tmp_path: Path,
) -> AsyncIterator[tuple[SlackStandIn, list[str], dict[str, str]]]:
    """Two bot processes, each with its own port, sharing Milvus, Redis and one Slack."""
    async with SlackStandIn() as slack:
        env = _bot_env(milvus_lite_server.uri, redis_url, slack.api_url, embedding_cache, tmp_path)
        ports = [free_port(), free_port()]
        with _processes(
            [[HELPBOT, "slack", "--http", "--host", "127.0.0.1", "--port", str(p)] for p in ports],
            env,
            tmp_path,
        ):
            urls = [f"http://127.0.0.1:{port}" for port in ports]
            for url in urls:
                assert (await http_get(f"{url}/readyz"))[0] == 200
            yield slack, urls, env


@contextlib.contextmanager
def _processes(commands: list[list[str]], env: dict[str, str], cwd: Path) -> Iterator[None]:
    """Long-running commands, stopped with SIGTERM (as an orchestrator would) on exit."""
    started = [
        subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=(cwd / f"bot{i}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for i, command in enumerate(commands)
    ]
    try:
        yield
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            assert process.wait(30) == 0


async def _post(url: str, body: bytes, content_type: str = "application/json") -> int:
    return await post_event(url, body, payloads.signed_headers(body, SECRET), content_type)


async def _count(urls: list[str], name: str) -> float:
    total = 0.0
    for url in urls:
        _, text = await http_get(f"{url}/metrics")
        for family in text_string_to_metric_families(text):
            total += sum(sample.value for sample in family.samples if sample.name == name)
    return total


async def _until_counted(urls: list[str], name: str, expected: float) -> None:
    async with asyncio.timeout(60):
        while await _count(urls, name) < expected:
            await asyncio.sleep(0.1)


async def test_the_same_event_sent_to_two_bot_processes_is_answered_once(
    two_bots: tuple[SlackStandIn, list[str], dict[str, str]], tmp_path: Path
) -> None:
    slack, urls, env = two_bots
    mention = payloads.app_mention(
        "<@U0BOT> How is data stored in milvus?", channel="C0SHARED", user="U0ASK", ts="1.000001"
    )
    body = json.dumps(mention).encode()
    assert await asyncio.gather(*(_post(url, body) for url in urls)) == [200, 200]

    # Each process has handled the event once it is counted as answered or as a duplicate.
    await _until_counted(urls, "helpbot_questions_total", 1)
    await _until_counted(urls, "helpbot_duplicate_events_total", 1)
    assert await _count(urls, "helpbot_questions_total") == 1
    assert len(slack.calls_to("chat.startStream")) == 1
    [stop] = await slack.wait_for("chat.stopStream", timeout=30)

    # A vote on that answer, sent to either process, lands in the one shared feedback store.
    blocks = stop.params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    answer_id = next(
        element["value"]
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == VOTE_UP
    )
    for url in urls:
        click = payloads.interaction_body(
            payloads.block_actions(
                VOTE_UP,
                answer_id,
                channel="C0SHARED",
                user=f"U0VOTER{url[-5:]}",
                message_ts=stop.params["ts"],
                thread_ts="1.000001",
            )
        )
        assert await _post(url, click, "application/x-www-form-urlencoded") == 200
    await slack.wait_for("chat.postEphemeral", count=2, timeout=30)
    listed = subprocess.run(
        [HELPBOT, "feedback", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    [record] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (record["question"], record["up"]) == ("How is data stored in milvus?", 2)
