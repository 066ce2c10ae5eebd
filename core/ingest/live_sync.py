"""Keep the sources file's knowledge bases in step while a bot runs (`helpbot serve`): every
source at start, a local path again after each change under it, a remote one on its refresh
interval. One sync writes at a time; a failing source keeps its chunks and is retried: a local
one after a pause that grows (see core/ingest/retries.py), a remote one at its interval."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from pathlib import Path

import watchfiles

from core.ingest.retries import RETRY_FIRST_PAUSE_S, Retries
from core.ingest.sources_file import SourceSpec
from core.ingest.sources_sync import (
    OptionsFor,
    SourceOutcome,
    sync_source,
    sync_sources,
)
from core.ingest.sync import Ingestor

__all__ = ["LiveSync"]

log = logging.getLogger(__name__)

_DEBOUNCE_MS = 1500  # editors save in bursts (temp file, rename, chmod): one sync per pause
_APPEAR_POLL_S = 2.0


class LiveSync:
    """The sources of one sources file, synced until `run`'s stop event is set."""

    def __init__(
        self,
        ingestor: Ingestor,
        specs: list[SourceSpec],
        options_for: OptionsFor,
        git_cache: Path,
        on_outcome: Callable[[SourceOutcome], None] | None = None,
        retry_s: float = RETRY_FIRST_PAUSE_S,
    ) -> None:
        """`on_outcome` hears of each source's sync as it ends (serve counts them);
        `retry_s` is the first pause before a failed local source is synced again."""
        self._on_outcome = on_outcome or (lambda outcome: None)
        self._retry_s = retry_s
        self._ingestor = ingestor
        self._git_cache = git_cache
        self._specs = specs
        self._options_for = options_for
        self._writing = asyncio.Lock()
        self.outcomes: dict[str, SourceOutcome] = {}
        """Each source's last sync, by origin."""
        self.first_sync_done = asyncio.Event()
        self._reloaded = asyncio.Event()

    def checks(self) -> dict[str, str]:
        """Per source, for /readyz: "ok", "failing" (its chunks kept) or "pending"."""
        checks = {}
        for spec in self._specs:
            outcome = self.outcomes.get(spec.origin)
            state = "pending" if outcome is None else "ok" if outcome.ok else "failing"
            checks[f"source {spec.origin}"] = state
        return checks

    def reload(self, specs: list[SourceSpec]) -> None:
        """Follow a reloaded sources file: the whole file is synced again (sources taken out
        of it are deleted), then its sources are followed."""
        self._specs = specs
        self._reloaded.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Sync every source, then follow changes and intervals until `stop` is set; after a
        `reload`, the same with the new sources."""
        while not stop.is_set():
            self._reloaded.clear()
            specs = self._specs
            async with self._writing:
                report = await sync_sources(
                    self._ingestor, specs, self._options_for, self._git_cache
                )
            self.outcomes = {
                origin: outcome
                for origin, outcome in self.outcomes.items()
                if any(spec.origin == origin for spec in specs)
            } | {outcome.spec.origin: outcome for outcome in report.outcomes}
            for outcome in report.outcomes:
                self._on_outcome(outcome)
            self.first_sync_done.set()
            await self._follow(specs, stop)

    async def _follow(self, specs: list[SourceSpec], stop: asyncio.Event) -> None:
        """Follow changes and intervals until `stop` is set or the file is reloaded."""
        local = [spec for spec in specs if spec.kind == "path"]
        followers = [asyncio.create_task(self._follow_changes(local))] if local else []
        followers += [
            asyncio.create_task(self._refresh(spec, stop)) for spec in specs if spec.remote
        ]
        ended = [asyncio.create_task(stop.wait()), asyncio.create_task(self._reloaded.wait())]
        try:
            await asyncio.wait(ended, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in followers + ended:
                task.cancel()
            await asyncio.gather(*followers, *ended, return_exceptions=True)

    async def _sync(self, spec: SourceSpec) -> bool:
        """Sync one source; whether it succeeded."""
        async with self._writing:
            outcome = await sync_source(self._ingestor, spec, self._options_for, self._git_cache)
        self.outcomes[spec.origin] = outcome
        self._on_outcome(outcome)
        return outcome.ok

    async def _follow_changes(self, specs: list[SourceSpec]) -> None:
        """Sync each local source after a batch of changes under it, and one whose last sync
        failed (at start or after a change) again after a pause, until it succeeds. A path
        that does not exist yet (a checkout still to come) is synced as soon as it appears,
        and followed from then on."""
        retries = Retries(self._retry_s)
        for spec in specs:
            outcome = self.outcomes.get(spec.origin)
            if outcome is not None and not outcome.ok:
                retries.after(spec.origin, False, functools.partial(self._sync, spec))
        try:
            while True:
                missing = [spec for spec in specs if not Path(spec.origin).exists()]
                existing = [spec for spec in specs if spec not in missing]
                await self._watch(existing, missing, retries)
                for spec in missing:
                    if Path(spec.origin).exists():
                        sync = functools.partial(self._sync, spec)
                        retries.after(spec.origin, await sync(), sync)
        finally:
            await retries.close()

    async def _watch(
        self, existing: list[SourceSpec], missing: list[SourceSpec], retries: Retries
    ) -> None:
        """Sync the `existing` sources after each batch of changes under them, until one of
        the `missing` paths appears (forever if none is missing)."""
        # Its own stop event: watchfiles sets the one it is given when it is cancelled,
        # and a reload cancels this watch without stopping anything else.
        appeared = asyncio.Event()
        waiting = asyncio.create_task(_until_any_exists(missing, appeared)) if missing else None
        try:
            if not existing:
                await appeared.wait()
                return
            roots = [Path(spec.origin) for spec in existing]
            async for changes in watchfiles.awatch(
                *roots, debounce=_DEBOUNCE_MS, stop_event=appeared, recursive=True
            ):
                changed = {Path(path) for _, path in changes}
                for spec, root in zip(existing, roots, strict=True):
                    if any(path == root or path.is_relative_to(root) for path in changed):
                        sync = functools.partial(self._sync, spec)
                        retries.after(spec.origin, await sync(), sync)
        finally:
            if waiting is not None:
                waiting.cancel()

    async def _refresh(self, spec: SourceSpec, stop: asyncio.Event) -> None:
        """Sync a remote source again every `refresh_s` seconds."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), spec.refresh_s)
                return
            await self._sync(spec)


async def _until_any_exists(specs: list[SourceSpec], appeared: asyncio.Event) -> None:
    """Set `appeared` once one of these paths exists (checked every few seconds: a folder
    that does not exist cannot be watched)."""
    while not any(Path(spec.origin).exists() for spec in specs):
        await asyncio.sleep(_APPEAR_POLL_S)
    appeared.set()
