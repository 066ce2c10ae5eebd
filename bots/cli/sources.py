"""`helpbot sync` (the sources file, once: for cron) and `helpbot forget` (delete what is
named, and say how much went)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bots.cli.output import json_text, plain_text
from core import (
    BadInputError,
    ConfigError,
    Helpbot,
    Settings,
    SourcesReport,
    load_sources_file,
    sync_sources,
)

__all__ = ["ForgetCommand", "SyncCommand", "run_forget", "run_sync"]


@dataclass(frozen=True)
class SyncCommand:
    """`file` None is SOURCES_FILE."""

    file: Path | None = None
    json: bool = False


@dataclass(frozen=True)
class ForgetCommand:
    """What to delete: `names` in `kb`, or all of `kb` with `everything`."""

    names: tuple[str, ...] = ()
    kb: str | None = None
    json: bool = False


async def run_sync(settings: Settings, command: SyncCommand) -> int:
    """Sync every source in the file, remove those it no longer names; 1 if any failed."""
    path = command.file or settings.sources_file
    if path is None:
        raise ConfigError("no sources file: set SOURCES_FILE or pass --file (docs/sources.md)")
    specs = load_sources_file(path, settings.knowledge_base)
    async with Helpbot(settings) as bot:
        report = await sync_sources(bot.ingestor, specs, bot.ingest_options, settings.git_cache_dir)
    if command.json:
        print(json_text(_sync_json(report)), flush=True)
    else:
        _print_sync(report)
    return 1 if report.failed else 0


async def run_forget(settings: Settings, command: ForgetCommand) -> int:
    if not command.names and command.kb is None:
        raise BadInputError(
            "name what to forget: sources (paths, URLs or source names), "
            "or --kb NAME alone for a whole knowledge base"
        )
    kb = command.kb or settings.knowledge_base
    async with Helpbot(settings) as bot:
        report = await bot.ingestor.forget(kb, command.names)
    if command.json:
        print(json_text({"kb": kb, "chunks": report.chunks, "files": report.files}), flush=True)
    else:
        print(plain_text(f"{report.summary()} in knowledge base {kb!r}"), flush=True)
    return 0


def _print_sync(report: SourcesReport) -> None:
    for record in report.removed:
        print(plain_text(f"removed {record.origin} ({record.kb}): no longer in the file"))
    if report.removed:
        print(f"{report.chunks_removed} chunks of removed sources deleted")
    for outcome in report.outcomes:
        where = f"{outcome.spec.origin} ({outcome.spec.kb})"
        if outcome.report is None:
            print(plain_text(f"FAILED {where}: {outcome.error}"), file=sys.stderr)
            continue
        for skipped in outcome.report.skipped:
            print(plain_text(f"skipped {skipped.source}: {skipped.reason}"), file=sys.stderr)
        print(plain_text(f"{where}: {outcome.report.summary()}"), flush=True)
    failed = len(report.failed)
    print(f"{len(report.outcomes)} sources synced, {failed} failed (their chunks are kept)")


def _sync_json(report: SourcesReport) -> dict[str, Any]:
    return {
        "sources": [
            {
                "kb": o.spec.kb,
                "origin": o.spec.origin,
                "ok": o.ok,
                "error": o.error,
                "chunks_added": o.report.chunks_added if o.report else 0,
                "chunks_updated": o.report.chunks_updated if o.report else 0,
                "chunks_unchanged": o.report.chunks_unchanged if o.report else 0,
                "chunks_deleted": o.report.chunks_deleted if o.report else 0,
                "skipped": [
                    {"source": s.source, "reason": s.reason}
                    for s in (o.report.skipped if o.report else [])
                ],
            }
            for o in report.outcomes
        ],
        "removed": [{"kb": r.kb, "origin": r.origin} for r in report.removed],
        "chunks_removed": report.chunks_removed,
    }
