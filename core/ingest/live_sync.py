"""Keep the sources file's knowledge bases in step while a bot runs (`helpbot serve`): every
source at start, a local path again after each change under it, a remote one on its refresh
interval. One sync writes at a time; a failing source keeps its chunks and is retried: a local
one after a pause that grows (see core/ingest/retries.py), a remote one at its interval."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path

from core.ingest.path_watch import follow_path
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
        """Follow each local source (see `follow_path`); one whose last sync failed (at
        start or after a change) is synced again after a pause, until it succeeds."""
        retries = Retries(self._retry_s)
        for spec in specs:
            outcome = self.outcomes.get(spec.origin)
            if outcome is not None and not outcome.ok:
                retries.after(spec.origin, False, functools.partial(self._sync, spec))
        try:
            await asyncio.gather(*(self._follow_path(spec, retries) for spec in specs))
        finally:
            await retries.close()

    async def _follow_path(self, spec: SourceSpec, retries: Retries) -> None:
        """Follow one local source; a watch that breaks (the system's limit on watches, say)
        marks the source failing and is started again after a pause, with a sync to catch up
        on what it missed, instead of ending unseen."""
        sync = functools.partial(self._sync, spec)
        while True:
            try:
                await follow_path(Path(spec.origin), sync, retries)
            except Exception as exc:
                log.exception("watching %s failed; again in %.0f s", spec.origin, self._retry_s)
                error = f"watching failed: {type(exc).__name__}: {exc}"
                self.outcomes[spec.origin] = SourceOutcome(spec, None, error, time.time())
                await asyncio.sleep(self._retry_s)
                await sync()

    async def _refresh(self, spec: SourceSpec, stop: asyncio.Event) -> None:
        """Sync a remote source again every `refresh_s` seconds."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), spec.refresh_s)
                return
            await self._sync(spec)
