"""Follow one local file or folder: sync after each batch of changes under it, wait for it
while it is missing, and watch it again when it is replaced. `helpbot serve` follows its
sources file's local sources with it, and `helpbot ingest --watch` its paths."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import watchfiles

from core.ingest.retries import Retries

__all__ = ["follow_path"]

_DEBOUNCE_MS = 1500  # editors save in bursts (temp file, rename, chmod): one sync per pause
_CHECK_S = 2.0  # how often a missing path is looked for, and a watched one checked


async def follow_path(
    root: Path,
    sync: Callable[[], Awaitable[bool]],
    retries: Retries,
    key: str | None = None,
) -> None:
    """Run `sync` after each batch of changes under `root` (synced just before), until
    cancelled; a failed sync is tried again through `retries`, under `key` (the path by
    default). A path that does not exist (yet, or any more) is waited for; once it is there,
    and whenever it is replaced (`rm -rf docs && git clone ...`), it is watched again and
    synced once the watch runs, so nothing written meanwhile is missed."""
    key = key or str(root)
    synced = True
    while True:
        while not root.exists():
            synced = False
            await asyncio.sleep(_CHECK_S)
        watched = _identity(root)
        # Its own stop event: watchfiles sets the one it is given when it is cancelled, and
        # the caller may cancel this watch without stopping anything else. An empty batch
        # comes every _CHECK_S: the watch runs, and the path can be checked.
        async for changes in watchfiles.awatch(
            root,
            debounce=_DEBOUNCE_MS,
            stop_event=asyncio.Event(),
            recursive=True,
            rust_timeout=int(_CHECK_S * 1000),
            yield_on_timeout=True,
        ):
            if changes or not synced:
                synced = True
                retries.after(key, await sync(), sync)
            # The path itself deleted or replaced: this watch sees nothing in a new one
            # (which may even reuse the old folder's inode).
            gone = any(
                change == watchfiles.Change.deleted and Path(path) == root
                for change, path in changes
            )
            if gone or _identity(root) != watched:
                synced = False
                break


def _identity(path: Path) -> tuple[int, int] | None:
    """The file or folder at `path` now (None when there is none), to tell when another one
    took its name (`mv new docs`)."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino
