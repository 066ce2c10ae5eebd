"""Remembers which events were already handled, so each is answered exactly once.

Slack retries an event it thinks was missed, Socket Mode redelivers, and one message can
arrive both as `app_mention` and as `message`. The memory is in this process and forgets
after `ttl_s`; the server-mode issue shares it across processes with Redis.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RecentKeys:
    """A time-limited set: `claim(key)` is true the first time a key is seen."""

    def __init__(self, ttl_s: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_s
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def claim(self, *keys: str) -> bool:
        """True when none of `keys` was claimed within the TTL; all of them are then held."""
        now = self._clock()
        while self._seen and next(iter(self._seen.values())) < now - self._ttl:
            self._seen.popitem(last=False)
        if any(key in self._seen for key in keys):
            return False
        for key in keys:
            self._seen[key] = now
        return True
