"""`helpbot ingest`: sync files, folders, zips and URLs into a knowledge base, once or on every
change (`--watch`)."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bots.cli.output import fail, json_text, plain_text
from bots.cli.progress import Progress
from bots.cli.running import HealthOptions, Listening, health_server, stop_on_signals
from bots.ops.metrics import Metrics
from core import (
    RETRY_FIRST_PAUSE_S,
    BadInputError,
    Helpbot,
    HelpbotError,
    IngestReport,
    Retries,
    Settings,
    follow_path,
)

__all__ = ["IngestCommand", "run_ingest"]

_WATCHED = "watched paths"  # every change syncs them all, as one ingest


@dataclass(frozen=True)
class IngestCommand:
    """What to ingest and how: `kb` None is KNOWLEDGE_BASE; `url` a link template."""

    paths: tuple[str, ...]
    kb: str | None = None
    url: str | None = None
    recreate: bool = False
    json: bool = False
    watch: bool = False
    health: HealthOptions = field(default_factory=HealthOptions)
    replace: bool = False
    retry_s: float = RETRY_FIRST_PAUSE_S
    """With `watch`, the first pause before a failed sync is tried again."""


async def run_ingest(
    settings: Settings, command: IngestCommand, listening: Listening | None = None
) -> int:
    """Sync once and print a report; with `watch`, keep syncing until SIGINT or SIGTERM."""
    if command.watch:
        remote = [path for path in command.paths if "://" in path]
        if remote:
            raise BadInputError(f"--watch needs local files and folders, not {remote[0]}")
        missing = [path for path in command.paths if not Path(path).exists()]
        if missing:
            # A typo is said at once; a path deleted later is waited for.
            raise BadInputError(f"--watch needs files and folders that exist: no {missing[0]}")
        with stop_on_signals() as stop:
            await _watch(settings, command, stop, listening or Listening())
        return 0
    async with Helpbot(settings) as bot:
        if command.recreate:
            await bot.store.drop()
        with Progress(enabled=not command.json) as progress:
            report = await bot.ingestor.sync(
                list(command.paths),
                bot.ingest_options(command.kb, command.url, command.replace),
                progress.update,
            )
    _print_report(report, command.json)
    return 0


async def _watch(
    settings: Settings, command: IngestCommand, stop: asyncio.Event, listening: Listening
) -> None:
    """Sync once, then again after every batch of changes under the paths, until stopped.
    A failed sync is reported and counted, and tried again after a growing pause (or at the
    next change, whichever comes first). Each path is followed as `serve` follows a local
    source: one deleted is waited for, and one replaced (`rm -rf docs && git clone ...`)
    is watched again."""
    metrics = Metrics()
    async with (
        Helpbot(settings) as bot,
        health_server(settings, command.health, bot, metrics, listening),
    ):
        if command.recreate:
            await bot.store.drop()
        options = bot.ingest_options(command.kb, command.url, command.replace)

        async def sync() -> bool:
            async with writing:
                try:
                    report = await bot.ingestor.sync(list(command.paths), options)
                except HelpbotError as exc:
                    metrics.ingest_run(None)
                    fail(str(exc))
                    return False
            metrics.ingest_run(report)
            _print_report(report, command.json)
            return True

        writing = asyncio.Lock()  # a retry and a change never sync at once
        retries = Retries(command.retry_s)
        listening.ready.set()
        retries.after(_WATCHED, await sync(), sync)
        if not command.json:
            print(f"watching {', '.join(command.paths)} (Ctrl-C to stop)", flush=True)
        followers = [
            asyncio.create_task(follow_path(Path(path), sync, retries, _WATCHED))
            for path in command.paths
        ]
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([stopped, *followers], return_when=asyncio.FIRST_COMPLETED)
            for follower in followers:  # a watch that failed ends the command, and says why
                if follower.done():
                    follower.result()
        finally:
            for task in [stopped, *followers]:
                task.cancel()
            await asyncio.gather(stopped, *followers, return_exceptions=True)
            await retries.close()


def _print_report(report: IngestReport, as_json: bool) -> None:
    if as_json:
        print(json_text(_report_json(report)), flush=True)
        return
    for skipped in report.skipped:
        # File and zip entry names are anyone's: printed plain.
        print(plain_text(f"skipped {skipped.source}: {skipped.reason}"), file=sys.stderr)
    print(report.summary(), flush=True)


def _report_json(report: IngestReport) -> dict[str, Any]:
    return {
        "files": report.files,
        "chunks_added": report.chunks_added,
        "chunks_updated": report.chunks_updated,
        "chunks_unchanged": report.chunks_unchanged,
        "chunks_deleted": report.chunks_deleted,
        "files_deleted": report.files_deleted,
        "skipped": [{"source": s.source, "reason": s.reason} for s in report.skipped],
        "seconds": round(report.seconds, 3),
    }
