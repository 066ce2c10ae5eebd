"""Sync a watched source again after a failure, so that a change is never lost to a passing
fault (Milvus restarting, a disk briefly full): without this, a failed sync after an edit
waited for the next edit, which may never come."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["RETRY_FIRST_PAUSE_S", "Retries"]

log = logging.getLogger(__name__)

RETRY_FIRST_PAUSE_S = 5.0
RETRY_MAX_PAUSE_S = 300.0


class Retries:
    """At most one pending retry per source; the pause doubles after each failure, up to
    `max_s`. A sync that succeeds some other way (the next change) cancels the retry."""

    def __init__(
        self, first_s: float = RETRY_FIRST_PAUSE_S, max_s: float = RETRY_MAX_PAUSE_S
    ) -> None:
        self._first_s = first_s
        self._max_s = max_s
        self._pending: dict[str, asyncio.Task[None]] = {}

    def after(self, key: str, ok: bool, sync: Callable[[], Awaitable[bool]]) -> None:
        """Record how a sync of `key` ended; `sync` runs it again (True when it succeeded)."""
        if ok:
            task = self._pending.pop(key, None)
            if task is not None:
                task.cancel()
        elif key not in self._pending:
            self._pending[key] = asyncio.create_task(self._until_synced(key, sync))

    async def _until_synced(self, key: str, sync: Callable[[], Awaitable[bool]]) -> None:
        pause = self._first_s
        while True:
            log.info("syncing %s again in %.0f s, after its failure", key, pause)
            await asyncio.sleep(pause)
            if await sync():
                break
            pause = min(2 * pause, self._max_s)
        self._pending.pop(key, None)

    async def close(self) -> None:
        """Cancel every pending retry (the watch is stopping)."""
        tasks = list(self._pending.values())
        self._pending.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
