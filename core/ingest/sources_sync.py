"""Sync the sources file: every source into its knowledge base, each on its own (one that
fails keeps its chunks and does not stop the others), then the removal of the roots the file
no longer names."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.errors import HelpbotError
from core.ingest.git_checkout import checkout
from core.ingest.sources import FolderInput, SitemapInput
from core.ingest.sources_file import SourceSpec
from core.ingest.sync import IngestOptions, Ingestor, IngestReport
from core.search.types import RootRecord

__all__ = ["SourceOutcome", "SourcesReport", "sync_source", "sync_sources"]

log = logging.getLogger(__name__)

SOURCES_FILE_OWNER = "sources-file"

OptionsFor = Callable[[str, str | None], IngestOptions]
"""The ingest options for a knowledge base and a link template."""


@dataclass(frozen=True)
class SourceOutcome:
    """One source's last sync: its report, or the error that left its chunks as they were."""

    spec: SourceSpec
    report: IngestReport | None
    error: str | None
    finished_at: float

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SourcesReport:
    """A sync of the whole file: each source's outcome, and what the file no longer names."""

    outcomes: list[SourceOutcome] = field(default_factory=list)
    removed: list[RootRecord] = field(default_factory=list)
    chunks_removed: int = 0

    @property
    def failed(self) -> list[SourceOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]


async def sync_source(
    ingestor: Ingestor,
    spec: SourceSpec,
    options_for: OptionsFor,
    git_cache: Path,
) -> SourceOutcome:
    """Sync one source; an error is reported in the outcome, never raised. Git sources are
    checked out under `git_cache`."""
    try:
        options = replace(
            options_for(spec.kb, spec.link), owner=SOURCES_FILE_OWNER, auth_token=spec.token()
        )
        report = await ingestor.sync([await _input(spec, git_cache, options)], options)
    except HelpbotError as exc:
        log.warning("source %s failed to sync, its chunks are kept: %s", spec.origin, exc)
        return await _failed(ingestor, spec, str(exc))
    except Exception as exc:  # the machine or a bug: this source fails, the others go on
        log.exception("source %s failed to sync, its chunks are kept", spec.origin)
        return await _failed(ingestor, spec, f"{type(exc).__name__}: {exc}")
    log.info("source %s synced: %s", spec.origin, report.summary())
    return SourceOutcome(spec, report, None, time.time())


async def _failed(ingestor: Ingestor, spec: SourceSpec, error: str) -> SourceOutcome:
    with contextlib.suppress(HelpbotError):  # the store itself may be what failed
        await ingestor.record_failure(spec.kb, spec.origin, error)
    return SourceOutcome(spec, None, error, time.time())


async def _input(
    spec: SourceSpec, git_cache: Path, options: IngestOptions
) -> str | SitemapInput | FolderInput:
    if spec.kind == "sitemap":
        return SitemapInput(spec.location, spec.max_pages)
    if spec.kind == "git":
        folder = await checkout(spec.location, git_cache, spec.branch, options.auth_token)
        return FolderInput(folder, spec.origin, spec.glob)
    return spec.location


async def sync_sources(
    ingestor: Ingestor,
    specs: list[SourceSpec],
    options_for: OptionsFor,
    git_cache: Path,
) -> SourcesReport:
    """Remove the roots the file added and no longer names, then sync every source in turn.

    Removal goes first so that a source moved in the file (`~/a/handbook` to `~/b/handbook`)
    replaces its old self instead of being refused as another folder of the same name.
    """
    result = SourcesReport()
    listed = {(spec.kb, spec.origin) for spec in specs}
    result.removed, result.chunks_removed = await ingestor.remove_unlisted(
        SOURCES_FILE_OWNER, listed
    )
    for record in result.removed:
        log.info("source %s left the sources file: its chunks were deleted", record.origin)
    for spec in specs:
        result.outcomes.append(await sync_source(ingestor, spec, options_for, git_cache))
    return result
