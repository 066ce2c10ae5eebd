"""The learning loop through `helpbot serve`, the real Slack and Discord clients and the
stand-ins, on SQLite and on Redis: a scripted week of questions and votes becomes log rows,
gaps, a posted digest and an eval export that `helpbot eval` reads; an edited cited section
gets one notice in the answer's thread."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bots import learning
from bots.cli import DigestCommand, Listening, SlackCommand, main, run_digest, run_slack
from bots.cli.running import HealthOptions
from bots.discord.settings import DiscordSettings
from bots.learning import LearningLoop
from bots.slack import posts as slack_posts
from bots.slack.format import VOTE_UP
from bots.slack.posts import SlackPoster
from core.answering.prompts import NO_ANSWER, UNSURE
from core.container import Helpbot, build_answer_log
from core.models import Query
from core.settings import Settings
from tests.standins import slack_payloads as payloads
from tests.standins.discord_payloads import BOT_TOKEN, BOT_USER_ID, CHANNEL_ID, GUILD_ID
from tests.standins.discord_server import DiscordStandIn
from tests.standins.openai_server import OpenAIStandIn
from tests.standins.slack_server import SlackStandIn
from tests.support import http_get, write
from tests.test_discord_bot import final_message, has_buttons
from tests.test_serve import (
    BACKUPS,
    ROTA,
    Serving,
    ask_discord,
    ask_slack,
    settings_for,
    slack_settings_for,
)
from tests.test_slack_bot import local_settings, slack_settings

DIGEST_CHANNEL = "C0DIGEST"
QUESTIONS = {
    "backups": "When do backups run?",
    "rota": "When does the on-call rota change?",
    "price": "How much does Zilliz Cloud cost per month?",
    "precio": "¿Cuánto cuesta Zilliz Cloud al mes?",
}


@pytest.fixture(autouse=True)
def quick_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop looks every 0.2 s instead of every minute."""
    monkeypatch.setattr(learning, "POLL_S", 0.2)


def _settings(
    tmp_path: Path, embedding_cache: Path, feedback_env: dict[str, str], **values: Any
) -> Settings:
    docs = tmp_path / "docs"
    write(docs / "backups.md", BACKUPS)
    write(docs / "oncall.md", ROTA)
    sources = write(tmp_path / "sources.toml", '[[source]]\npath = "docs"\n')
    # The SQLite log is settings_for's own file (the one FEEDBACK_PATH names).
    shared = {"redis_url": feedback_env["REDIS_URL"]} if "REDIS_URL" in feedback_env else {}
    return settings_for(tmp_path, embedding_cache, sources_file=sources, **shared, **values)


def _discord_settings(**values: Any) -> DiscordSettings:
    return DiscordSettings(  # type: ignore[call-arg]
        _env_file=None,
        discord_token=BOT_TOKEN,
        discord_guild_id=int(GUILD_ID),
        discord_cooldown_s=0,
        **values,
    )


def slack_notices(slack: SlackStandIn) -> list[Any]:
    """The stale notices posted on Slack so far."""
    return [
        c for c in slack.calls_to("chat.postMessage") if "has changed" in c.params.get("text", "")
    ]


def discord_notices(discord_api: DiscordStandIn) -> list[dict[str, Any]]:
    """The stale notices posted in the Discord channel so far."""
    return [m for m in discord_api.messages(CHANNEL_ID) if "has changed" in m.get("content", "")]


def _vote_button(blocks: list[dict[str, Any]], action_id: str) -> str:
    return next(
        element["value"]
        for block in blocks
        for element in block.get("elements", [])
        if element.get("action_id") == action_id
    )


def _button(message: dict[str, Any], prefix: str) -> str:
    return next(
        component["custom_id"]
        for row in message.get("components", [])
        for component in row.get("components", [])
        if component.get("custom_id", "").startswith(prefix)
    )


async def test_a_scripted_week_becomes_log_rows_gaps_a_digest_and_an_eval_export(
    tmp_path: Path,
    embedding_cache: Path,
    feedback_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with OpenAIStandIn() as llm, SlackStandIn() as slack, DiscordStandIn() as discord_api:
        llm.reply_with("Backups run every night at two [1].", f"{UNSURE} Mondays, I think [1].")
        llm.default_reply = NO_ANSWER
        settings = _settings(
            tmp_path,
            embedding_cache,
            feedback_env,
            llm_base_url=llm.base_url,
            llm_api_key="k",
            digest_every="2s",
        )
        slack_settings = slack_settings_for(slack).model_copy(
            update={"digest_slack_channel": DIGEST_CHANNEL}
        )
        discord_settings = _discord_settings(digest_discord_channel=CHANNEL_ID)
        with discord_api.patch_discord():
            async with Serving(settings, slack_settings, discord_settings) as serving:
                await ask_slack(slack, QUESTIONS["backups"], "1700000801.000001")
                [stop] = [c for c in slack.calls if c.method == "chat.stopStream"][-1:]
                await ask_discord(discord_api, QUESTIONS["rota"])
                rota_answer = discord_api.messages(CHANNEL_ID)[-1]
                await ask_slack(slack, QUESTIONS["price"], "1700000802.000001")
                await ask_discord(discord_api, QUESTIONS["precio"])

                blocks = stop.params["blocks"]
                blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
                await slack.push(
                    "interactive",
                    payloads.block_actions(
                        VOTE_UP,
                        _vote_button(blocks, VOTE_UP),
                        channel="C0HELP",
                        user="U0VOTER",
                        message_ts=stop.params["ts"],
                        thread_ts="1700000801.000001",
                    ),
                )
                down = _button(rota_answer, "helpbot:vote:down:")
                await discord_api.button_click(down, message_id=rota_answer["id"])
                await discord_api.wait_until(
                    lambda: any(
                        "helpbot:reason:" in json.dumps(m.get("components", []))
                        for m in discord_api.messages(CHANNEL_ID, ephemeral=True)
                    ),
                    timeout=10,
                    what="the reasons to pick from",
                )
                prompt = next(
                    m
                    for m in discord_api.messages(CHANNEL_ID, ephemeral=True)
                    if "helpbot:reason:" in json.dumps(m.get("components", []))
                )
                outdated = _button(prompt, "helpbot:reason:outdated:")
                await discord_api.button_click(outdated, message_id=prompt["id"])
                await discord_api.wait_for("interaction.callback", count=2)
                # The first poll starts the digest clock; one comes DIGEST_EVERY later.
                await slack.wait_until(
                    lambda: any(
                        c.method == "chat.postMessage" and c.params.get("channel") == DIGEST_CHANNEL
                        for c in slack.calls
                    ),
                    20,
                    "the digest on Slack",
                )
                await discord_api.wait_until(
                    lambda: any(
                        m.get("content", "").startswith("helpbot digest")
                        for m in discord_api.messages(CHANNEL_ID)
                    ),
                    timeout=10,
                    what="the digest on Discord",
                )
                metrics = (await http_get(f"{serving.url('health')}/metrics"))[1]
                assert await serving.stop() == 0
            # On demand, the week so far (the scheduled one above may have come first).
            await run_digest(
                settings,
                slack_settings,
                discord_settings,
                DigestCommand(since_s=7 * 86400, post=True),
            )
        slack_digest = [
            c.params["text"]
            for c in slack.calls
            if c.method == "chat.postMessage" and c.params.get("channel") == DIGEST_CHANNEL
        ][-1]
        discord_digest = [
            m
            for m in discord_api.messages(CHANNEL_ID)
            if m.get("content", "").startswith("helpbot digest")
        ][-1]

    answer_log = build_answer_log(settings)
    await answer_log.start()
    rows = {r.question: r for r in await answer_log.recent(limit=10)}
    await answer_log.stop()
    assert rows[QUESTIONS["backups"]].outcome == "answered"
    assert (rows[QUESTIONS["backups"]].platform, rows[QUESTIONS["backups"]].up) == ("slack", 1)
    assert rows[QUESTIONS["rota"]].outcome == "unsure"
    assert rows[QUESTIONS["rota"]].down_reasons == ("outdated",)
    assert rows[QUESTIONS["price"]].outcome == "dont_know"
    assert (rows[QUESTIONS["precio"]].outcome, rows[QUESTIONS["precio"]].language) == (
        "dont_know",
        "es",
    )
    assert rows[QUESTIONS["backups"]].prompt_tokens  # the model's usage, streamed
    tokens = 'helpbot_llm_tokens_total{kind="completion",platform="slack"}'
    assert tokens in metrics and f"{tokens} 0.0" not in metrics

    assert "Questions asked: 4" in slack_digest
    assert "answered 1 (25%), unsure 1 (25%), don't know 2 (50%)" in slack_digest
    assert "Votes: 1 up, 1 down" in slack_digest
    assert "docs/backups.md (1)" in slack_digest
    assert len(discord_digest["content"]) <= 2000
    assert discord_digest["mentions"] == [] and not discord_digest.get("mention_everyone")

    for name, value in feedback_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MILVUS_URI", settings.milvus_uri)
    monkeypatch.setenv("EMBEDDING_CACHE_PATH", str(embedding_cache))
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["gaps", "--json"]) == 0
    gaps = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    grouped = [{gap["representative"], *gap["examples"]} for gap in gaps]
    # The price asked in English and in Spanish is one gap; the rota another.
    assert sorted(grouped, key=len) == [
        {QUESTIONS["rota"]},
        {QUESTIONS["price"], QUESTIONS["precio"]},
    ]
    rota_gap = next(g for g in gaps if QUESTIONS["rota"] in (g["representative"], *g["examples"]))
    assert rota_gap["kind"] == "covered_poorly" and rota_gap["downvotes"] == 1
    assert "docs/oncall.md" in rota_gap["closest"]["section"]

    export = tmp_path / "votes.jsonl"
    assert await asyncio.to_thread(main, ["feedback", "--export-eval", str(export)]) == 0
    cases = {c["question"]: c for c in map(json.loads, export.read_text().splitlines())}
    assert cases[QUESTIONS["backups"]]["answers"] == [
        {"source": "docs/backups.md", "heading": "When do backups run?"}
    ]
    assert all(cases[QUESTIONS[k]]["needs_label"] for k in ("rota", "price", "precio"))
    assert "source" not in cases[QUESTIONS["price"]]
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["eval", str(export), "--k", "3"]) == 0
    out = capsys.readouterr().out
    assert "skipped 3 questions that need a label" in out
    assert "en" in out


async def test_an_edited_cited_section_gets_one_notice_in_the_answers_thread(
    tmp_path: Path, embedding_cache: Path, feedback_env: dict[str, str]
) -> None:
    settings = _settings(tmp_path, embedding_cache, feedback_env, stale_notice="thread")
    question_ts = "1700000901.000001"
    async with SlackStandIn() as slack, Serving(settings, slack_settings_for(slack)) as serving:
        answer = await ask_slack(slack, QUESTIONS["backups"], question_ts)
        await ask_slack(slack, QUESTIONS["rota"], "1700000902.000001")
        write(tmp_path / "docs" / "backups.md", BACKUPS.replace("two", "three"))
        await slack.wait_until(lambda: bool(slack_notices(slack)), 60, "the stale notice")
        write(tmp_path / "docs" / "backups.md", BACKUPS.replace("two", "four"))
        write(tmp_path / "docs" / "extra.md", "# Extra\n\n## More\n\nAnother page.\n")
        await asyncio.sleep(4)  # two more syncs' worth of polls: no second notice
        assert await serving.stop() == 0
    [notice] = slack_notices(slack)
    assert "every night at two" in answer
    assert notice.params["thread_ts"] == question_ts
    assert notice.params["channel"] == "C0HELP"
    assert "When do backups run?" in notice.params["text"]


async def test_on_discord_the_notice_replies_to_the_question_and_pings_no_one(
    tmp_path: Path, embedding_cache: Path, feedback_env: dict[str, str]
) -> None:
    settings = _settings(tmp_path, embedding_cache, feedback_env, stale_notice="thread")
    async with SlackStandIn() as slack, DiscordStandIn() as discord_api:
        discord_settings = _discord_settings()
        with discord_api.patch_discord():
            async with Serving(settings, slack_settings_for(slack), discord_settings) as serving:
                question = await discord_api.user_message(
                    f"<@{BOT_USER_ID}> {QUESTIONS['backups']}", mentions=[BOT_USER_ID]
                )
                await discord_api.wait_until(
                    lambda: has_buttons(final_message(discord_api)), timeout=20, what="the answer"
                )
                write(tmp_path / "docs" / "backups.md", BACKUPS.replace("two", "three"))
                await discord_api.wait_until(
                    lambda: bool(discord_notices(discord_api)), 60, "the stale notice"
                )
                assert await serving.stop() == 0
    [notice] = discord_notices(discord_api)
    assert notice["message_reference"]["message_id"] == question["id"]
    assert notice["mentions"] == [] and not notice.get("mention_everyone")


async def test_a_slash_command_answer_gets_its_notice_under_the_answer(
    tmp_path: Path, embedding_cache: Path, feedback_env: dict[str, str]
) -> None:
    """`/ask` has no question message to reply to: on Slack the notice goes in the answer's
    thread, on Discord it replies to the answer (it got none)."""
    settings = _settings(tmp_path, embedding_cache, feedback_env, stale_notice="thread")
    async with SlackStandIn() as slack, DiscordStandIn() as discord_api:
        discord_settings = _discord_settings()
        with discord_api.patch_discord():
            async with Serving(settings, slack_settings_for(slack), discord_settings) as serving:
                command = payloads.slash_command(
                    "/ask", QUESTIONS["backups"], channel="C0HELP", user="U0ASKER"
                )
                await slack.push("slash_commands", command)
                [slack_answer] = await slack.wait_for("chat.postMessage")
                await discord_api.slash_command("ask", {"question": QUESTIONS["backups"]})
                await discord_api.wait_until(
                    lambda: has_buttons(final_message(discord_api)), timeout=20, what="the answer"
                )
                discord_answer = final_message(discord_api)
                write(tmp_path / "docs" / "backups.md", BACKUPS.replace("two", "three"))

                await slack.wait_until(lambda: bool(slack_notices(slack)), 60, "the Slack notice")
                await discord_api.wait_until(
                    lambda: bool(discord_notices(discord_api)), 60, "the Discord notice"
                )
                assert await serving.stop() == 0
    [slack_notice] = slack_notices(slack)
    [discord_notice] = discord_notices(discord_api)
    assert slack_notice.params["channel"] == "C0HELP"
    [answer_post, notice_post] = slack.thread("C0HELP", slack_notice.params["thread_ts"])
    assert answer_post["blocks"] == slack_answer.params["blocks"]  # under the answer
    assert notice_post["text"] == slack_notice.params["text"]
    assert discord_notice["message_reference"]["message_id"] == discord_answer["id"]


DAY = 86400.0


class FakeClock:
    """The loop's clock, moved by the test: whether a digest is due never depends on how
    fast a loaded machine runs the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _slack_digest_loop(bot: Helpbot, slack: SlackStandIn, clock: FakeClock) -> LearningLoop:
    """A daily digest in C0DIGEST, no notices."""
    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
    poster = SlackPoster(client, "C0DIGEST")
    return LearningLoop(bot.answer_log, bot.coverage, [poster], DAY, notices=False, clock=clock)


async def test_a_digest_that_could_not_be_posted_is_posted_at_the_next_poll(
    make_settings, feedback_env: dict[str, str]
) -> None:
    """Slack refused the post: the period is given back, not skipped, and the next poll posts
    that digest once (across processes too: the claim lives in the answer log)."""
    settings = make_settings(**{name.lower(): value for name, value in feedback_env.items()})
    async with SlackStandIn() as slack, Helpbot(settings) as bot:
        await bot.answer_log.save_failure(Query("Is there a Terraform provider?"), "error", "en")
        clock = FakeClock()
        loop = _slack_digest_loop(bot, slack, clock)
        await loop.tick()  # the very first start only starts the clock
        clock.now += DAY
        slack.fail_with("chat.postMessage", error="not_in_channel")
        await loop.tick()  # due, refused: given back
        await loop.tick()  # due again: posted
        await loop.tick()  # not due
    attempts = [c.params["text"] for c in slack.calls_to("chat.postMessage")]
    assert len(attempts) == 2 and attempts[0] == attempts[1]
    assert "helpbot digest" in attempts[1]


async def test_a_digest_cut_short_after_its_first_part_is_not_posted_again(
    make_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack refused the second of several parts: the channel keeps the first part once (a
    retry would post it twice), and the next period's digest comes on schedule."""
    monkeypatch.setattr(slack_posts, "MESSAGE_CHARS", 120)
    async with SlackStandIn() as slack, Helpbot(make_settings()) as bot:
        for number in range(3):
            question = Query(f"Is there a Terraform provider, version {number}?")
            await bot.answer_log.save_failure(question, "error", "en")
        clock = FakeClock()
        loop = _slack_digest_loop(bot, slack, clock)
        await loop.tick()  # the very first start only starts the clock
        clock.now += DAY
        slack.fail_with("chat.postMessage", error="msg_too_long", after=1)
        await loop.tick()  # due: part 1 posted, part 2 refused
        await loop.tick()  # not due: nothing posted again
        first_period = [c.params["text"] for c in slack.calls_to("chat.postMessage")]
        clock.now += DAY
        await loop.tick()  # the next period, whole
    attempts = [c.params["text"] for c in slack.calls_to("chat.postMessage")]
    assert len(first_period) == 2 and "helpbot digest" in first_period[0]
    assert "helpbot digest" not in first_period[1]
    assert len(attempts) > 3 and "helpbot digest" in attempts[2]
    assert [text for text in attempts if "helpbot digest" in text] == [attempts[0], attempts[2]]


async def test_helpbot_digest_post_cut_short_says_so_and_fails(
    make_settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(slack_posts, "MESSAGE_CHARS", 120)
    settings = make_settings()
    async with Helpbot(settings) as bot:
        await bot.answer_log.save_failure(Query("Is there a Terraform provider?"), "error", "en")
    async with SlackStandIn() as slack:
        slack.fail_with("chat.postMessage", error="msg_too_long", after=1)
        status = await run_digest(
            settings,
            slack_settings(slack, digest_slack_channel=DIGEST_CHANNEL),
            DiscordSettings(_env_file=None),  # type: ignore[call-arg]
            DigestCommand(post=True),
        )
    assert status == 1
    assert "cut short on slack" in capsys.readouterr().err
    assert len(slack.calls_to("chat.postMessage")) == 2


async def test_helpbot_slack_on_its_own_posts_the_digest_too(
    tmp_path: Path, embedding_cache: Path
) -> None:
    """The learning loop is not `serve`'s alone: `helpbot slack` with DIGEST_SLACK_CHANNEL
    posts the digest on its schedule (it ignored the setting)."""
    settings = local_settings(tmp_path, embedding_cache).model_copy(update={"digest_every": 1.0})
    async with SlackStandIn() as slack:
        chat = slack_settings(slack, digest_slack_channel="C0DIGEST")
        command = SlackCommand(health=HealthOptions(port=0, host="127.0.0.1"))
        run = asyncio.create_task(run_slack(settings, chat, command, Listening()))

        def digests() -> list[Any]:
            return [
                c
                for c in slack.calls_to("chat.postMessage")
                if c.params.get("channel") == "C0DIGEST"
            ]

        await slack.wait_until(lambda: bool(digests()), 30, "the digest")
        os.kill(os.getpid(), signal.SIGTERM)
        assert await asyncio.wait_for(run, 15) == 0
    assert "helpbot digest" in digests()[0].params["text"]
