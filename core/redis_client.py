"""The Redis connection behind shared state (REDIS_URL): checked at start-up, and with short
timeouts, so a wrong URL fails at once and a hung Redis cannot stall a chat handler."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from core.errors import SharedStateError

__all__ = ["connect_redis"]

_TIMEOUT_S = 2.0
_MAX_CONNECTIONS = 32


async def connect_redis(url: str) -> Redis:
    """A client for `url` (str replies), after a PING; create it in the event loop that will
    use it, since its connections belong to that loop."""
    # A burst of events waits for a free connection instead of failing "Too many connections".
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=_MAX_CONNECTIONS,
        timeout=_TIMEOUT_S,
        decode_responses=True,
        socket_timeout=_TIMEOUT_S,
        socket_connect_timeout=_TIMEOUT_S,
    )
    client = Redis.from_pool(pool)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        raise SharedStateError(f"cannot reach Redis at REDIS_URL: {exc}") from exc
    return client
