"""A per-user rate limit (one question per cooldown), so one person cannot flood the bot: in
this process (`LocalRateLimiter`) or in Redis (`RedisRateLimiter`), across every bot process."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    async def retry_after(self, user: str) -> float:
        """0 when the user may ask now (and the question counts); else seconds to wait."""
        ...


class LocalRateLimiter:
    """At most one question per user every `per_s` seconds (0 turns it off)."""

    def __init__(self, per_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._per = per_s
        self._clock = clock
        self._last: dict[str, float] = {}

    async def retry_after(self, user: str) -> float:
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


class RedisRateLimiter:
    """The same rule in Redis: a key per user that only a counted question sets, so a
    refused question does not restart the wait."""

    def __init__(self, client: Redis, prefix: str, per_s: float) -> None:
        self._client = client
        self._prefix = prefix
        self._per_s = per_s
        self._per_ms = max(1, round(per_s * 1000))

    async def retry_after(self, user: str) -> float:
        """As `LocalRateLimiter.retry_after`; while Redis fails, nobody is slowed down."""
        if self._per_s <= 0:
            return 0.0
        key = self._prefix + user
        try:
            # One transaction: the PTTL reads the key the SET just refused to replace.
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.set(key, 1, nx=True, px=self._per_ms)
                pipe.pttl(key)
                created, left_ms = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("Redis failed, answering without the rate limit: %s", exc)
            return 0.0
        if created:
            return 0.0
        return max(int(left_ms), 1) / 1000  # never 0 on a refusal
