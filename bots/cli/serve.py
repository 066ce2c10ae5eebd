"""`helpbot serve`: one process, one core, every adapter whose settings are present (Slack,
Discord) and the live sync of the sources file, with health, readiness and metrics on one
port. SIGTERM drains: no new questions, answers in flight finish (up to a deadline), sync
stops, the store closes; a second SIGTERM exits at once."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import watchfiles

from bots.cli.platforms import (
    discord_adapter,
    learning_beside,
    learning_loop,
    raise_discord_failure,
    slack_adapter,
)
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
from bots.learning import Poster
from bots.ops.metrics import Metrics
from bots.slack.app import SlackBot
from bots.slack.posts import SlackPoster
from bots.slack.settings import SlackSettings
from core import (
    ConfigError,
    Helpbot,
    LiveSync,
    Readiness,
    Routing,
    Settings,
    SourceOutcome,
    load_sources_file,
)

__all__ = ["ServeCommand", "run_serve"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeCommand:
    """`drain_s`: how long answers in flight may take to finish after SIGTERM; `slack_http`:
    Slack's HTTP Events API on host:port instead of Socket Mode."""

    health: HealthOptions = field(default_factory=HealthOptions)
    drain_s: float = 20.0
    slack_http: bool = False
    host: str = "0.0.0.0"
    port: int = 3000


async def run_serve(
    settings: Settings,
    slack_settings: SlackSettings,
    discord_settings: DiscordSettings,
    command: ServeCommand,
    listening: Listening | None = None,
) -> int:
    """Run every configured adapter and the sources file's sync until SIGINT or SIGTERM."""
    slack_on = _slack_configured(slack_settings, command.slack_http)
    discord_on = discord_settings.discord_token is not None
    if not (slack_on or discord_on or settings.sources_file):
        raise ConfigError(
            "nothing to serve: set SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Slack), DISCORD_TOKEN "
            "(Discord) or SOURCES_FILE (documents kept in sync); see .env.example"
        )
    specs = (
        load_sources_file(settings.sources_file, settings.knowledge_base)
        if settings.sources_file
        else []
    )
    listening = listening or Listening()
    metrics = Metrics()
    with stop_on_signals(second_exits=True) as stop:
        async with Helpbot(settings, share_store=True) as bot, shared_state(settings) as state:
            slack = slack_adapter(bot, slack_settings, metrics, state) if slack_on else None
            discord_bot = (
                discord_adapter(bot, discord_settings, metrics, state) if discord_on else None
            )

            def counted(outcome: SourceOutcome) -> None:
                metrics.ingest_run(outcome.report)
                metrics.source_synced(outcome.spec.kb, outcome.spec.origin, outcome.ok)

            sync = (
                LiveSync(bot.ingestor, specs, bot.ingest_options, settings.git_cache_dir, counted)
                if settings.sources_file
                else None
            )
            adapters = [adapter for adapter in (slack, discord_bot) if adapter is not None]
            posters: list[Poster] = []
            if slack is not None:
                posters.append(SlackPoster(slack.client, slack_settings.digest_slack_channel))
            if discord_bot is not None:
                posters.append(DiscordPoster(discord_bot, discord_settings.digest_discord_channel))
            learning = learning_loop(bot, settings, posters)

            async def readiness() -> Readiness:
                core = await bot.service.readiness()
                checks = dict(core.checks)
                if slack is not None:
                    checks["slack"] = "ok" if await slack.connected() else "connecting"
                if discord_bot is not None:
                    checks["discord"] = "ok" if discord_bot.is_ready() else "connecting"
                platforms = [checks.get(name, "ok") for name in ("slack", "discord")]
                ready = core.ready and all(state == "ok" for state in platforms)
                # A failing source keeps its chunks: answers go on, so readiness does too.
                checks.update(sync.checks() if sync else {})
                return Readiness(ready, checks)

            tasks: list[asyncio.Task[None]] = []
            # The Slack HTTP port serves the health routes itself when it is the one asked.
            slack_port = command.port if slack_on and command.slack_http and command.port else None
            async with (
                health_server(
                    settings,
                    command.health,
                    bot,
                    metrics,
                    listening,
                    served_on=slack_port,
                    readiness=readiness,
                ),
                learning_beside(learning, stop, discord_bot),
            ):
                drain_s = 0.0  # a failure stops at once; SIGTERM lets answers finish
                try:
                    if sync is not None:
                        tasks.append(asyncio.create_task(sync.run(stop), name="sync"))
                    reloading = _follow_config(settings, adapters, sync)
                    tasks.append(asyncio.create_task(reloading, name="reload"))
                    if slack is not None:
                        health_here = command.health.resolved(settings).port == slack_port
                        await _start_slack(slack, slack_settings, command, listening, health_here)
                    if discord_bot is not None:
                        token = _discord_token(discord_settings)
                        tasks.append(asyncio.create_task(discord_bot.start(token), name="discord"))
                    settle_heap()
                    listening.ready.set()
                    await _until_stopped_or_failed(stop, tasks)
                    print("stopping: answers in flight may finish, then sync and the store close")
                    drain_s = command.drain_s
                finally:
                    await _shut_down(slack, discord_bot, drain_s)
                    # A sync cut short is safe: a re-run converges on one clean run's state.
                    for task in tasks:
                        if task.get_name() in ("sync", "reload"):
                            task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
    return 0


async def _follow_config(
    settings: Settings,
    adapters: list[SlackBot | DiscordBot],
    sync: LiveSync | None,
) -> None:
    """Re-read the routing file and the sources file after a change to either, or on SIGHUP.
    A file that no longer reads keeps the rules in force, with one line saying why."""
    files = [path.resolve() for path in (settings.routing_file, settings.sources_file) if path]
    if not files:
        return
    requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, requested.set)
    watcher = asyncio.create_task(_watch_files(files, requested))
    try:
        while True:
            await requested.wait()
            requested.clear()
            _reload(settings, adapters, sync)
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


async def _watch_files(files: list[Path], changed: asyncio.Event) -> None:
    """Set `changed` after each batch of changes to `files` (their folders are watched: an
    editor replaces a file by renaming another over it). Stopped by cancelling: watchfiles
    sets the stop event it is given when cancelled, so it gets one of its own."""
    folders = sorted({file.parent for file in files})
    watching = watchfiles.awatch(*folders, stop_event=asyncio.Event(), recursive=False)
    async for changes in watching:
        if any(Path(path).resolve() in files for _, path in changes):
            changed.set()


def _reload(
    settings: Settings, adapters: list[SlackBot | DiscordBot], sync: LiveSync | None
) -> None:
    if settings.routing_file is not None:
        try:
            routing = Routing.from_file(settings.routing_file)
        except ConfigError as exc:
            log.warning("%s; the routing in force stays", exc)
        else:
            for adapter in adapters:
                adapter.use_routing(routing)
            log.info("routing file %s reloaded", settings.routing_file)
    if settings.sources_file is not None and sync is not None:
        try:
            specs = load_sources_file(settings.sources_file, settings.knowledge_base)
        except ConfigError as exc:
            log.warning("%s; the sources in force stay", exc)
        else:
            sync.reload(specs)
            log.info("sources file %s reloaded: syncing it", settings.sources_file)


def _discord_token(discord_settings: DiscordSettings) -> str:
    assert discord_settings.discord_token is not None
    return discord_settings.discord_token.get_secret_value()


def _slack_configured(slack_settings: SlackSettings, http: bool) -> bool:
    if slack_settings.slack_bot_token is None:
        return False
    if http and slack_settings.slack_signing_secret is None:
        raise ConfigError("--slack-http needs SLACK_SIGNING_SECRET to check Slack's requests")
    if not http and slack_settings.slack_app_token is None:
        raise ConfigError(
            "SLACK_BOT_TOKEN is set but SLACK_APP_TOKEN is not: serve connects to Slack over "
            "Socket Mode unless --slack-http (the HTTP Events API, with SLACK_SIGNING_SECRET)"
        )
    return True


async def _start_slack(
    slack: SlackBot,
    slack_settings: SlackSettings,
    command: ServeCommand,
    listening: Listening,
    health_here: bool,
) -> None:
    """Socket Mode, or the HTTP Events API; /metrics on the public port only when asked, or
    when it is the health port too (`health_here`)."""
    if not command.slack_http:
        await slack.start_socket_mode()
        print("Slack bot connected over Socket Mode", flush=True)
        return
    port = await slack.start_http(
        command.host,
        command.port,
        metrics_route=slack_settings.slack_http_metrics or health_here,
    )
    listening.ports["slack"] = port
    print(f"Slack Events API on http://{command.host}:{port}/slack/events", flush=True)


async def _until_stopped_or_failed(stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
    """Wait for SIGTERM, or for the Discord connection or the sync to fail (raised)."""
    waiter = asyncio.create_task(stop.wait())
    running: set[asyncio.Future[Any]] = {waiter, *tasks}
    try:
        while True:
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            if waiter in done:
                return
            for task in done:
                if isinstance(task, asyncio.Task) and task.get_name() == "discord":
                    raise_discord_failure(task)
                task.result()
    finally:
        waiter.cancel()


async def _shut_down(
    slack: SlackBot | None, discord_bot: DiscordBot | None, drain_s: float
) -> None:
    """No new questions; let answers in flight finish for up to `drain_s`; disconnect."""
    drains = []
    if slack is not None:
        drains.append(slack.stop(drain_s))
    if discord_bot is not None:
        drains.append(discord_bot.drain(drain_s))
    await asyncio.gather(*drains)
    if discord_bot is not None:
        await discord_bot.close()
