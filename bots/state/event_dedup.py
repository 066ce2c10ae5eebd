"""Remembers which events were already handled, so each is answered exactly once.

Slack retries an event it thinks was missed, Socket Mode redelivers, and one message can
arrive both as `app_mention` and as `message`. `LocalEventDeduplicator` remembers in this process;
`RedisEventDeduplicator` in Redis, so that of several bot processes exactly one claims an event.
Both forget after `ttl_s`.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class EventDeduplicator(Protocol):
    async def claim(self, *keys: str) -> bool:
        """True when none of `keys` was claimed within the TTL; all of them are then held."""
        ...


class LocalEventDeduplicator:
    """A time-limited set in this process."""

    def __init__(self, ttl_s: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_s
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    async def claim(self, *keys: str) -> bool:
        """True when none of `keys` was claimed within the TTL; all of them are then held."""
        now = self._clock()
        while self._seen and next(iter(self._seen.values())) < now - self._ttl:
            self._seen.popitem(last=False)
        if any(key in self._seen for key in keys):
            return False
        for key in keys:
            self._seen[key] = now
        return True


# All or nothing, atomically: a claim that loses holds none of its keys.
_CLAIM = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then return 0 end
end
for _, key in ipairs(KEYS) do redis.call('SET', key, '1', 'PX', ARGV[1]) end
return 1
"""


class RedisEventDeduplicator:
    """The same set in Redis, shared by every process that uses the same prefix."""

    def __init__(self, client: Redis, prefix: str, ttl_s: float = 600.0) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._script = client.register_script(_CLAIM)

    async def claim(self, *keys: str) -> bool:
        """As `LocalEventDeduplicator.claim`; while Redis fails, every event is claimed
        (answered) and a warning logged: a question answered twice beats one never answered."""
        names = [self._prefix + key for key in keys]
        try:
            return bool(await self._script(keys=names, args=[self._ttl_ms]))
        except (RedisError, OSError) as exc:
            log.warning("Redis failed, answering without de-duplication: %s", exc)
            return True
