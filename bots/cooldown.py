"""A per-user cooldown, so one person cannot flood the bot with questions."""

from __future__ import annotations

import time
from collections.abc import Callable


class Cooldown:
    """At most one question per user every `per_s` seconds (0 turns it off)."""

    def __init__(self, per_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._per = per_s
        self._clock = clock
        self._last: dict[str, float] = {}

    def retry_after(self, user: str) -> float:
        """0 when the user may ask now (and the question counts); else seconds to wait."""
        now = self._clock()
        if self._per <= 0:
            return 0.0
        last = self._last.get(user)
        if last is not None and now - last < self._per:
            return self._per - (now - last)
        self._last = {u: t for u, t in self._last.items() if now - t < self._per}
        self._last[user] = now
        return 0.0
