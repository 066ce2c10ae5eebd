"""What several bot processes must agree on: which events were already answered, who asked
how recently, how busy each channel is. In this process by default; in Redis with REDIS_URL,
so any number of bot processes (Slack HTTP behind a load balancer, several Socket Mode
connections, Discord shards) answer each event once and apply one set of limits."""

from __future__ import annotations

from types import TracebackType

from redis.asyncio import Redis

from bots.state.conversation_memory import (
    ConversationMemory,
    LocalConversationMemory,
    RedisConversationMemory,
)
from bots.state.event_dedup import EventDeduplicator, LocalEventDeduplicator, RedisEventDeduplicator
from bots.state.rate_limits import (
    ChannelBudget,
    LocalChannelBudget,
    LocalRateLimiter,
    RateLimiter,
    RedisChannelBudget,
    RedisRateLimiter,
)
from core import connect_redis


class SharedState:
    """Builds the event memory and rate limits an adapter uses; start() connects to Redis."""

    def __init__(self, redis_url: str | None = None) -> None:
        self._redis_url = redis_url
        self._redis: Redis | None = None

    async def start(self) -> None:
        if self._redis_url is not None and self._redis is None:
            self._redis = await connect_redis(self._redis_url)

    async def stop(self) -> None:
        if self._redis is not None:
            redis, self._redis = self._redis, None
            await redis.aclose()

    def event_deduplicator(self, platform: str) -> EventDeduplicator:
        if self._redis is None:
            return LocalEventDeduplicator()
        return RedisEventDeduplicator(self._redis, f"helpbot:{platform}:seen:")

    def rate_limiter(self, platform: str, per_s: float) -> RateLimiter:
        if self._redis is None:
            return LocalRateLimiter(per_s)
        return RedisRateLimiter(self._redis, f"helpbot:{platform}:cooldown:", per_s)

    def conversation_memory(self, platform: str, ttl_s: float) -> ConversationMemory:
        """Threads answered in and assistant panel contexts, kept for `ttl_s` seconds."""
        if self._redis is None:
            return LocalConversationMemory(ttl_s)
        return RedisConversationMemory(self._redis, f"helpbot:{platform}:memory:", ttl_s)

    def channel_budget(self, platform: str, per_minute: int) -> ChannelBudget:
        """At most `per_minute` questions a minute from one channel (0: no budget)."""
        if self._redis is None:
            return LocalChannelBudget(per_minute)
        return RedisChannelBudget(self._redis, f"helpbot:{platform}:channel:", per_minute)

    async def __aenter__(self) -> SharedState:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
