"""Which language a knowledge base's docs are written in, so a question in another language is
moved toward it before the search (core/search/language_offsets.py).

`DOCS_LANGUAGE=auto` (the default) reads a sample of the knowledge base's chunks the first
time it is searched and takes the language most of them are written in; it is read again
after an hour, so docs that change language (rare) are followed without a restart.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Protocol

from core.language import Language, detect_language

__all__ = ["AUTO", "DocsLanguages"]

AUTO = "auto"
_SAMPLE = 100
_CHARS = 400
"""Enough of each sampled chunk to tell its language; detection holds the GIL, so less text
keeps the first question's pause on the event loop short."""
_FOLLOW_S = 3600.0
_EMPTY = "en"
"""Assumed while a knowledge base has no chunks (and never remembered)."""


class ChunkSample(Protocol):
    """What reads a sample of chunk texts (the store)."""

    async def sample_texts(self, kbs: tuple[str, ...], limit: int) -> list[str]: ...


class DocsLanguages:
    """The docs' language per set of knowledge bases searched together: fixed, or detected."""

    def __init__(self, store: ChunkSample, setting: str = AUTO) -> None:
        self._store = store
        self._fixed = None if setting == AUTO else setting
        self._known: dict[tuple[str, ...], tuple[Language, float]] = {}
        self._lock = asyncio.Lock()

    async def of(self, kbs: tuple[str, ...]) -> Language:
        """The language most sampled chunks of `kbs` are written in."""
        if self._fixed is not None:
            return self._fixed
        key = tuple(sorted(kbs))
        async with self._lock:
            known = self._known.get(key)
            if known is not None and time.monotonic() - known[1] < _FOLLOW_S:
                return known[0]
            texts = await self._store.sample_texts(key, _SAMPLE)
            if not texts:
                return _EMPTY
            language = await asyncio.to_thread(_most_common_language, texts)
            self._known[key] = (language, time.monotonic())
            return language


def _most_common_language(texts: list[str]) -> Language:
    return Counter(detect_language(text[:_CHARS]) for text in texts).most_common(1)[0][0]
