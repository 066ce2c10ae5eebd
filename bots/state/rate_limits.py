"""Fair limits, so one person or one busy channel cannot flood the bot: a per-user cooldown
(one question per `per_s`) and a per-channel budget (questions a minute). Each in this process
(`Local...`) or in Redis (`Redis...`), across every bot process."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


# The channel budget's window: questions are counted per minute.
_WINDOW_S = 60.0


class RateLimiter(Protocol):
    async def retry_after(self, user: str) -> float:
        """0 when the user may ask now (and the question counts); else seconds to wait."""
        ...


class ChannelBudget(Protocol):
    async def retry_after(self, channel: str) -> float:
        """0 when the channel may ask now (and the question counts); else seconds until
        its budget has room again."""
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


class LocalChannelBudget:
    """At most `per_minute` questions a channel in a minute that starts with its first
    question (0 turns it off)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # channel -> (start, questions)

    async def retry_after(self, channel: str) -> float:
        """0 when the channel may ask now (and the question counts); else seconds to wait."""
        if self._per_minute <= 0:
            return 0.0
        now = self._clock()
        self._windows = {c: w for c, w in self._windows.items() if now - w[0] < _WINDOW_S}
        start, asked = self._windows.get(channel, (now, 0))
        if asked >= self._per_minute:
            return _WINDOW_S - (now - start)
        self._windows[channel] = (start, asked + 1)
        return 0.0


class RedisChannelBudget:
    """The same budget in Redis: a counter per channel that expires a minute after the
    first question it counts."""

    def __init__(self, client: Redis, prefix: str, per_minute: int) -> None:
        self._client = client
        self._prefix = prefix
        self._per_minute = per_minute

    async def retry_after(self, channel: str) -> float:
        """As `LocalChannelBudget.retry_after`; while Redis fails, no channel is slowed."""
        if self._per_minute <= 0:
            return 0.0
        key = self._prefix + channel
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.set(key, 0, nx=True, px=round(_WINDOW_S * 1000))
                pipe.incr(key)
                pipe.pttl(key)
                _, asked, left_ms = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("Redis failed, answering without the channel budget: %s", exc)
            return 0.0
        if int(asked) <= self._per_minute:
            return 0.0
        return max(int(left_ms), 1) / 1000
