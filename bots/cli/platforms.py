"""`helpbot slack` and `helpbot discord`: run one chat adapter on the core until SIGINT or
SIGTERM, with health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

import discord

from bots.cli.running import (
    HealthOptions,
    Listening,
    health_server,
    settle_heap,
    shared_state,
    stop_on_signals,
)
from bots.discord.client import DiscordBot
from bots.discord.posts import DiscordPoster
from bots.discord.settings import DiscordSettings
from bots.learning import LearningLoop, Poster
from bots.ops.metrics import Metrics
from bots.slack.app import SlackBot
from bots.slack.posts import SlackPoster
from bots.slack.settings import SlackSettings
from bots.state.shared import SharedState
from core import ConfigError, Helpbot, Settings

__all__ = [
    "DiscordCommand",
    "SlackCommand",
    "discord_adapter",
    "learning_beside",
    "learning_loop",
    "raise_discord_failure",
    "run_discord",
    "run_slack",
    "slack_adapter",
]


@dataclass(frozen=True)
class SlackCommand:
    """Socket Mode, or the HTTP Events API on host:port (0 picks a free port)."""

    http: bool = False
    host: str = "0.0.0.0"
    port: int = 3000
    health: HealthOptions = field(default_factory=HealthOptions)


@dataclass(frozen=True)
class DiscordCommand:
    health: HealthOptions = field(default_factory=HealthOptions)


def slack_adapter(
    bot: Helpbot, slack_settings: SlackSettings, metrics: Metrics, state: SharedState
) -> SlackBot:
    """The Slack adapter on a running core."""
    return SlackBot(
        slack_settings,
        bot.service,
        bot.answer_log,
        metrics=metrics,
        state=state,
        routing=bot.routing,
    )


def discord_adapter(
    bot: Helpbot, discord_settings: DiscordSettings, metrics: Metrics, state: SharedState
) -> DiscordBot:
    """The Discord adapter on a running core."""
    return DiscordBot(
        discord_settings,
        bot.service,
        bot.answer_log,
        metrics=metrics,
        state=state,
        routing=bot.routing,
    )


async def run_slack(
    settings: Settings,
    slack_settings: SlackSettings,
    command: SlackCommand,
    listening: Listening | None = None,
) -> int:
    """Run the Slack adapter until SIGINT or SIGTERM; `listening` learns the bound ports."""
    listening = listening or Listening()
    metrics = Metrics()
    with stop_on_signals() as stop:
        async with Helpbot(settings) as bot, shared_state(settings) as state:
            slack = slack_adapter(bot, slack_settings, metrics, state)
            health = command.health.resolved(settings)
            # The Slack HTTP port serves the health routes itself when it is the one asked
            # (port 0 asks for a free port each, never the same one).
            slack_port = command.port if command.http and command.port else None
            health_on_slack_port = slack_port is not None and health.port == slack_port
            try:
                if command.http:
                    # /metrics is for Prometheus, not the internet: on the public Slack port
                    # only when asked, or when the health port is that port.
                    port = await slack.start_http(
                        command.host,
                        command.port,
                        metrics_route=slack_settings.slack_http_metrics or health_on_slack_port,
                    )
                    listening.ports["slack"] = port
                    url = f"http://{command.host}:{port}/slack/events"
                    print(f"Slack Events API on {url}", flush=True)
                else:
                    await slack.start_socket_mode()
                    print("Slack bot connected over Socket Mode", flush=True)
                poster = SlackPoster(slack.client, slack_settings.digest_slack_channel)
                async with (
                    health_server(settings, health, bot, metrics, listening, served_on=slack_port),
                    learning_beside(learning_loop(bot, settings, [poster]), stop),
                ):
                    settle_heap()
                    listening.ready.set()
                    await stop.wait()
            finally:
                await slack.stop()
    return 0


async def run_discord(
    settings: Settings,
    discord_settings: DiscordSettings,
    command: DiscordCommand,
    listening: Listening | None = None,
) -> int:
    """Run the Discord adapter until SIGINT or SIGTERM; `listening` learns the bound ports."""
    if discord_settings.discord_token is None:
        raise ConfigError("DISCORD_TOKEN is required to connect to Discord")
    token = discord_settings.discord_token.get_secret_value()
    listening = listening or Listening()
    metrics = Metrics()
    with stop_on_signals() as stop:
        async with (
            Helpbot(settings) as bot,
            shared_state(settings) as state,
            discord_adapter(bot, discord_settings, metrics, state) as client,
            health_server(settings, command.health, bot, metrics, listening),
            learning_beside(
                learning_loop(
                    bot, settings, [DiscordPoster(client, discord_settings.digest_discord_channel)]
                ),
                stop,
                client,
            ),
        ):
            settle_heap()
            listening.ready.set()
            runner = asyncio.create_task(client.start(token))
            waiter = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if runner in done:
                raise_discord_failure(runner)
            else:
                await client.close()
                await asyncio.gather(runner, return_exceptions=True)
    return 0


def raise_discord_failure(runner: asyncio.Task[None]) -> None:
    """A login or connection failure, as one line naming the setting to fix."""
    try:
        runner.result()
    except discord.LoginFailure as exc:
        raise ConfigError("DISCORD_TOKEN was rejected by Discord") from exc
    except discord.PrivilegedIntentsRequired as exc:
        raise ConfigError(
            "DISCORD_MESSAGE_CONTENT_INTENT is on but the application was not granted the "
            "Message Content intent (developer portal > Bot)"
        ) from exc


def learning_loop(bot: Helpbot, settings: Settings, posters: list[Poster]) -> LearningLoop:
    """The digest and stale-answer notices, posted on the platforms this process serves."""
    notices = settings.stale_notice == "thread"
    return LearningLoop(bot.answer_log, bot.coverage, posters, settings.digest_every, notices)


@contextlib.asynccontextmanager
async def learning_beside(
    learning: LearningLoop, stop: asyncio.Event, discord_bot: DiscordBot | None = None
) -> AsyncIterator[None]:
    """The learning loop running (when it has anything to do) for the block's duration."""
    task = (
        asyncio.create_task(_when_ready(discord_bot, learning.run(stop)), name="learning")
        if learning.enabled
        else None
    )
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def _when_ready(discord_bot: DiscordBot | None, work: Coroutine[Any, Any, None]) -> None:
    """Run `work` once Discord is connected (its channels can be posted to), or at once.
    (`wait_until_ready` refuses to wait before the client has logged in.)"""
    while discord_bot is not None and not discord_bot.is_ready():
        await asyncio.sleep(0.5)
    await work
