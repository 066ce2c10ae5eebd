"""`helpbot serve`: one process and one Lite file answer on Slack and on Discord, keep the
sources file in sync while running, and drain on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from bots.cli import Listening
from bots.cli.running import HealthOptions
from bots.cli.serve import ServeCommand, run_serve
from bots.discord.settings import DiscordSettings
from bots.slack.settings import SlackSettings
from core import ConfigError
from core.ingest import sources_file
from core.settings import Settings
from tests.standins import slack_payloads as payloads
from tests.standins.discord_payloads import BOT_TOKEN, BOT_USER_ID, GUILD_ID
from tests.standins.discord_server import DiscordStandIn
from tests.standins.docs_site import Site, page
from tests.standins.openai_server import OpenAIStandIn
from tests.standins.slack_server import SlackStandIn
from tests.support import http_get, post_event, write
from tests.test_discord_bot import final_message, has_buttons
from tests.test_slack_bot import streamed_text

BACKUPS = "# Backups\n\n## When do backups run?\n\nBackups run every night at two, to S3.\n"
ROTA = "# On call\n\n## When does the on-call rota change?\n\nThe rota changes every Monday.\n"


def settings_for(tmp_path: Path, embedding_cache: Path, **values: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        milvus_uri=str(tmp_path / "data" / "helpbot.db"),
        embedding_cache_path=embedding_cache,
        feedback_path=tmp_path / "data" / "feedback.sqlite",
        **values,
    )


def docs_and_sources(tmp_path: Path) -> tuple[Path, Path]:
    """A docs folder with one page, and a sources file naming it."""
    docs = tmp_path / "docs"
    write(docs / "backups.md", BACKUPS)
    return docs, write(tmp_path / "sources.toml", '[[source]]\npath = "docs"\n')


def slack_settings_for(slack: SlackStandIn) -> SlackSettings:
    """Socket Mode against the stand-in; no fair limits (one user asks again and again)."""
    return SlackSettings(  # type: ignore[call-arg]
        _env_file=None,
        slack_bot_token="xoxb-test",
        slack_app_token="xapp-1-test",
        slack_api_url=slack.api_url,
        slack_cooldown_s=0,
        slack_channel_questions_per_minute=0,
    )


async def ask_slack(slack: SlackStandIn, question: str, ts: str) -> str:
    """Mention the bot in Slack and return the answer it streamed."""
    before = len(slack.calls)
    body = payloads.app_mention(f"<@U0BOT> {question}", channel="C0HELP", user="U0ASKER", ts=ts)
    await slack.push("events_api", body)
    await slack.wait_until(
        lambda: any(c.method == "chat.stopStream" for c in slack.calls[before:]), 20, "an answer"
    )
    return streamed_text(slack, since=before)


class Serving:
    """`run_serve` in this process: on entry, started and ready (the first sync done, every
    adapter connected); `stop()` sends SIGTERM and returns its exit code; a test that fails
    first leaves it cancelled on exit."""

    def __init__(
        self,
        settings: Settings,
        slack_settings: SlackSettings,
        discord_settings: DiscordSettings | None = None,
        **command: Any,
    ) -> None:
        self.listening = Listening()
        command.setdefault("drain_s", 5)
        self._run = lambda: run_serve(
            settings,
            slack_settings,
            discord_settings or DiscordSettings(_env_file=None),  # type: ignore[call-arg]
            ServeCommand(HealthOptions(port=0, host="127.0.0.1"), **command),
            self.listening,
        )
        self._task: asyncio.Task[int] | None = None

    def url(self, port: str) -> str:
        return f"http://127.0.0.1:{self.listening.ports[port]}"

    async def __aenter__(self) -> Serving:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.listening.ready.wait(), 60)
        await _until_ready(self.url("health"))
        return self

    async def stop(self) -> int:
        assert self._task is not None
        os.kill(os.getpid(), signal.SIGTERM)
        return await asyncio.wait_for(self._task, 30)

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def test_serve_answers_on_both_platforms_and_picks_up_a_new_file(
    tmp_path: Path, embedding_cache: Path
) -> None:
    docs, sources = docs_and_sources(tmp_path)
    settings = settings_for(tmp_path, embedding_cache, sources_file=sources)
    async with SlackStandIn() as slack, DiscordStandIn() as discord_api:
        with discord_api.patch_discord():
            slack_settings = slack_settings_for(slack)
            discord_settings = DiscordSettings(  # type: ignore[call-arg]
                _env_file=None,
                discord_token=BOT_TOKEN,
                discord_guild_id=int(GUILD_ID),
                discord_cooldown_s=0,  # one user asks twice
            )
            async with Serving(settings, slack_settings, discord_settings) as serving:
                health = serving.url("health")
                slack_answer = await ask_slack(slack, "When do backups run?", "1700000101.000001")
                await discord_api.user_message(
                    f"<@{BOT_USER_ID}> When do backups run?", mentions=[BOT_USER_ID]
                )
                await discord_api.wait_until(
                    lambda: has_buttons(final_message(discord_api)), timeout=20, what="the reply"
                )
                discord_answer = json.dumps(final_message(discord_api))

                write(docs / "oncall.md", ROTA)  # no restart: the watched folder is synced
                rota_answer = ""
                for attempt in range(30):
                    rota_answer = await ask_slack(
                        slack, "When does the on-call rota change?", f"1700000200.{attempt:06d}"
                    )
                    if "every Monday" in rota_answer:
                        break
                    await asyncio.sleep(1)
                discord_rota = await ask_discord(discord_api, "When does the on-call rota change?")
                ready = json.loads((await http_get(f"{health}/readyz"))[1])
                metrics = (await http_get(f"{health}/metrics"))[1]
                assert await serving.stop() == 0
    assert "every night at two" in slack_answer
    assert "every night at two" in discord_answer
    assert "every Monday" in rota_answer and "every Monday" in discord_rota
    assert ready["status"] == "ready"
    assert ready["checks"]["slack"] == ready["checks"]["discord"] == "ok"
    assert ready["checks"][f"source {docs}"] == "ok"
    assert f'helpbot_source_failing{{kb="default",source="{docs}"}} 0.0' in metrics
    assert "close" in discord_api.timeline


async def test_readiness_says_when_slack_cannot_reach_the_bot(
    tmp_path: Path, embedding_cache: Path
) -> None:
    """Slack gone (its Socket Mode connection closed and not reopened): /readyz says so and
    is 503, as it is while Discord connects, instead of reporting Slack "ok" regardless."""
    _, sources = docs_and_sources(tmp_path)
    settings = settings_for(tmp_path, embedding_cache, sources_file=sources)
    async with contextlib.AsyncExitStack() as slack_running:
        slack = await slack_running.enter_async_context(SlackStandIn())
        async with Serving(settings, slack_settings_for(slack)) as serving:
            health = serving.url("health")
            before = json.loads((await http_get(f"{health}/readyz"))[1])
            await slack_running.aclose()
            for _ in range(60):
                status, body = await http_get(f"{health}/readyz")
                if status == 503:
                    break
                await asyncio.sleep(0.5)
            assert await serving.stop() == 0
    assert before["checks"]["slack"] == "ok"
    assert status == 503
    assert json.loads(body)["checks"]["slack"] == "connecting"


async def ask_discord(discord_api: DiscordStandIn, question: str) -> str:
    """Mention the bot in Discord and return its final reply, sources and buttons included."""
    before = final_message(discord_api)
    await discord_api.user_message(f"<@{BOT_USER_ID}> {question}", mentions=[BOT_USER_ID])
    await discord_api.wait_until(
        lambda: (reply := final_message(discord_api)) != before and has_buttons(reply),
        timeout=20,
        what="the reply",
    )
    return json.dumps(final_message(discord_api), ensure_ascii=False)


async def test_a_page_changed_behind_a_sitemap_is_answered_on_both_platforms(
    tmp_path: Path, embedding_cache: Path, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sitemap is fetched again on its interval: the changed page is answered from on
    Slack and on Discord without a restart; the unchanged one is only asked for (304)."""
    monkeypatch.setattr(sources_file, "MIN_REFRESH_S", 1.0)
    site.pages = {
        "/backups.html": page("Backups", "Backups run every night at two."),
        "/restore.html": page("Restore", "Restore a snapshot with the backup tool."),
    }
    site.listed = ["/backups.html", "/restore.html"]
    sources = write(
        tmp_path / "sources.toml",
        f'[[source]]\nsitemap = "{site.url("/sitemap.xml")}"\nrefresh = "1s"\n',
    )
    settings = settings_for(tmp_path, embedding_cache, sources_file=sources)
    question = "How do I restore a backup?"
    async with SlackStandIn() as slack, DiscordStandIn() as discord_api:
        with discord_api.patch_discord():
            discord_settings = DiscordSettings(  # type: ignore[call-arg]
                _env_file=None, discord_token=BOT_TOKEN, discord_guild_id=int(GUILD_ID)
            )
            async with Serving(settings, slack_settings_for(slack), discord_settings) as serving:
                before = await ask_slack(slack, question, "1700000600.000001")
                site.pages["/restore.html"] = page("Restore", "Run milvus-backup restore -n.")
                slack_after = ""
                for attempt in range(40):
                    slack_after = await ask_slack(slack, question, f"1700000700.{attempt:06d}")
                    if "milvus-backup restore" in slack_after:
                        break
                    await asyncio.sleep(0.5)
                discord_after = await ask_discord(discord_api, question)
                assert await serving.stop() == 0
    assert "snapshot with the backup tool" in before
    assert "milvus-backup restore" in slack_after
    assert "milvus-backup restore" in discord_after
    assert site.answers["/backups.html", 200] == 1
    assert site.answers["/backups.html", 304] >= 1


async def _until_ready(health: str) -> None:
    """/readyz is 200 once the first sync made the collection and Discord connected."""
    for _ in range(120):
        status, _ = await http_get(f"{health}/readyz")
        if status == 200:
            return
        await asyncio.sleep(0.5)
    raise AssertionError("serve never became ready")


async def test_serve_with_nothing_configured_names_what_to_set(
    tmp_path: Path, embedding_cache: Path
) -> None:
    with pytest.raises(ConfigError, match=r"SLACK_BOT_TOKEN and SLACK_APP_TOKEN .* DISCORD_TOKEN"):
        await run_serve(
            settings_for(tmp_path, embedding_cache),
            SlackSettings(_env_file=None),  # type: ignore[call-arg]
            DiscordSettings(_env_file=None),  # type: ignore[call-arg]
            ServeCommand(),
        )


async def test_sigterm_lets_the_answer_in_flight_finish(
    tmp_path: Path, embedding_cache: Path
) -> None:
    """SIGTERM while the model is still thinking: serve stops receiving at once (Slack then
    sends new events elsewhere, or again later), the answer still arrives, then serve
    exits."""
    _, sources = docs_and_sources(tmp_path)
    async with SlackStandIn() as slack, OpenAIStandIn() as llm:
        llm.reply_with("Backups run nightly at two [1].")
        settings = settings_for(
            tmp_path,
            embedding_cache,
            sources_file=sources,
            llm_base_url=llm.base_url,
            llm_api_key="test-key",
        )
        async with Serving(settings, slack_settings_for(slack), drain_s=10) as serving:
            llm.hang(2.0)
            body = payloads.app_mention(
                "<@U0BOT> When do backups run?", channel="C0HELP", user="U0ASKER", ts="1.000001"
            )
            asked = len(llm.chat_calls())
            await slack.push("events_api", body)
            await slack.wait_until(lambda: len(llm.chat_calls()) > asked, 20, "the model asked")
            assert await serving.stop() == 0
    assert "Backups run nightly at two" in streamed_text(slack)
    assert slack.timeline.index("close") < slack.timeline.index("call:chat.stopStream")


async def test_the_sources_and_routing_files_are_reloaded_without_a_restart(
    tmp_path: Path, embedding_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A knowledge base added to both files is synced and searched from the next question; a
    broken file keeps what is in force; SIGHUP reloads too."""
    caplog.set_level(logging.INFO, logger="bots.cli.serve")
    docs_and_sources(tmp_path)
    write(tmp_path / "eng" / "oncall.md", ROTA)
    sources = write(tmp_path / "sources.toml", '[[source]]\nkb = "handbook"\npath = "docs"\n')
    routing = write(tmp_path / "routing.toml", 'default = ["handbook"]\n')
    settings = settings_for(tmp_path, embedding_cache, sources_file=sources, routing_file=routing)
    async with SlackStandIn() as slack, Serving(settings, slack_settings_for(slack)) as serving:
        question = "When does the on-call rota change?"
        before = await ask_slack(slack, question, "1700000300.000001")
        sources.write_text(sources.read_text() + '[[source]]\nkb = "eng"\npath = "eng"\n')
        routing.write_text('default = ["handbook", "eng"]\n')
        after = ""
        for attempt in range(40):
            after = await ask_slack(slack, question, f"1700000400.{attempt:06d}")
            if "every Monday" in after:
                break
            await asyncio.sleep(0.5)
        routing.write_text("default = [")  # broken: the rules in force stay
        await _until_logged(caplog, "the routing in force stays")
        kept = await ask_slack(slack, question, "1700000500.000001")
        caplog.clear()
        routing.write_text('default = ["handbook", "eng"]\n')
        await _until_logged(caplog, "routing file")  # the change, read once
        await asyncio.sleep(2)  # past the watcher's debounce: nothing more to read
        caplog.clear()
        os.kill(os.getpid(), signal.SIGHUP)
        await _until_logged(caplog, "routing file")  # read again, on SIGHUP alone
        assert await serving.stop() == 0
    assert "every Monday" not in before
    assert "every Monday" in after
    assert "every Monday" in kept


async def _until_logged(caplog: pytest.LogCaptureFixture, text: str) -> None:
    for _ in range(100):
        if any(text in record.getMessage() for record in caplog.records):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never logged: {text}")


async def test_serve_takes_slack_over_the_http_events_api(
    tmp_path: Path, embedding_cache: Path
) -> None:
    """`serve --slack-http`: a signed event on the public port is answered; that port has the
    probes but no /metrics (those stay on the health port)."""
    _, sources = docs_and_sources(tmp_path)
    settings = settings_for(tmp_path, embedding_cache, sources_file=sources)
    async with SlackStandIn() as slack:
        slack_settings = SlackSettings(  # type: ignore[call-arg]
            _env_file=None,
            slack_bot_token="xoxb-test",
            slack_signing_secret="signing-secret",
            slack_api_url=slack.api_url,
        )
        http = {"slack_http": True, "host": "127.0.0.1", "port": 0}
        async with Serving(settings, slack_settings, **http) as serving:
            public = serving.url("slack")
            body = json.dumps(
                payloads.app_mention(
                    "<@U0BOT> When do backups run?", channel="C0HELP", user="U0ASKER", ts="5.1"
                )
            ).encode()
            status = await post_event(public, body, payloads.signed_headers(body, "signing-secret"))
            await slack.wait_for("chat.stopStream", timeout=20)
            probes = [(await http_get(f"{public}{route}"))[0] for route in ("/readyz", "/metrics")]
            assert await serving.stop() == 0
    assert status == 200
    assert "every night at two" in streamed_text(slack)
    assert probes == [200, 404]
