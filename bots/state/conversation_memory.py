"""What the bot remembers about conversations for a while (THREAD_MEMORY_DAYS): the threads it
answered in, so that only replies there are read and answered, and the channel someone was
viewing when they opened the assistant panel. In this process (`LocalConversationMemory`) or
in Redis (`RedisConversationMemory`), shared by every bot process."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class ConversationMemory(Protocol):
    async def remember(self, key: str, value: str = "1") -> None:
        """Keep `value` under `key` for the memory's time, from now."""
        ...

    async def recall(self, key: str) -> str | None:
        """What was kept under `key`, if it is still remembered."""
        ...


class LocalConversationMemory:
    """A time-limited mapping in this process."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_s
        self._clock = clock
        # key -> (expires at, value), soonest to expire first: every entry lives as long.
        self._kept: OrderedDict[str, tuple[float, str]] = OrderedDict()

    async def remember(self, key: str, value: str = "1") -> None:
        """Keep `value` under `key` for the memory's time, from now."""
        now = self._clock()
        while self._kept and next(iter(self._kept.values()))[0] <= now:
            self._kept.popitem(last=False)
        self._kept[key] = (now + self._ttl, value)
        self._kept.move_to_end(key)

    async def recall(self, key: str) -> str | None:
        """What was kept under `key`, if it is still remembered."""
        kept = self._kept.get(key)
        return kept[1] if kept is not None and kept[0] > self._clock() else None


class RedisConversationMemory:
    """The same mapping in Redis: a key per entry that expires on its own."""

    def __init__(self, client: Redis, prefix: str, ttl_s: float) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_ms = max(1, round(ttl_s * 1000))

    async def remember(self, key: str, value: str = "1") -> None:
        """As `LocalConversationMemory.remember`; while Redis fails, nothing is kept (and a
        warning logged): a follow-up then needs a mention."""
        try:
            await self._client.set(self._prefix + key, value, px=self._ttl_ms)
        except (RedisError, OSError) as exc:
            log.warning("Redis failed, a conversation is not remembered: %s", exc)

    async def recall(self, key: str) -> str | None:
        """As `LocalConversationMemory.recall`; None while Redis fails."""
        try:
            value = await self._client.get(self._prefix + key)
        except (RedisError, OSError) as exc:
            log.warning("Redis failed, a conversation is not recalled: %s", exc)
            return None
        return None if value is None else str(value)
