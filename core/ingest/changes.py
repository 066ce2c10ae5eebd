"""What a sync or forget changed, told to whoever keeps track of what depends on the docs (the
answer log marks answers that cited a removed chunk stale; gaps are checked again)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["ChangeListener", "ChunkChanges"]


@dataclass(frozen=True)
class ChunkChanges:
    """Chunks a sync or forget removed from a knowledge base, and the (source, content hash)
    of every chunk the synced sources still have: a removed chunk whose text is still there
    only moved."""

    kb: str
    removed: tuple[str, ...]
    kept: frozenset[tuple[str, str]] = frozenset()
    added: int = 0
    """Chunks written (new or changed)."""


ChangeListener = Callable[[ChunkChanges], Awaitable[None]]
