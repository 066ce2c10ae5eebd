"""Answers and votes in Redis (REDIS_URL), shared by every bot process; the same interface as
the SQLite `SqliteAnswerLog`.

Layout (prefix P, default "helpbot:feedback:"):
  P answer:<id>  HASH   created_at, question, answer, answered ("1"/"0"), sources (JSON list),
                        platform / workspace / channel / user (only those that are not None)
  P votes:<id>   HASH   voter -> "up" | "down"      (HSET replaces: one vote per person)
  P answers      ZSET   <id> scored by created_at   (recent(): ZREVRANGE; purge: ZRANGEBYSCORE)
  P voted        ZSET   <id> scored by created_at, for answers with at least one vote
"""

from __future__ import annotations

import json
import math
import uuid
from typing import cast

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from core.learning.answer_log import AnswerRecord, Retention, Vote, source_keys
from core.models import Answer, Query
from core.redis_client import connect_redis

_ORIGIN = ("platform", "workspace", "channel", "user")
_PURGE_BATCH = 500

# Atomic: no vote is stored for an answer that does not exist (or was just purged).
_VOTE = """
local created = redis.call('HGET', KEYS[1], 'created_at')
if not created then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], created, ARGV[3])
return 1
"""


class RedisAnswerLog:
    """Answers and votes under one key prefix in Redis."""

    def __init__(
        self, url: str, retention: Retention | None = None, prefix: str = "helpbot:feedback:"
    ) -> None:
        self._url = url
        self._retention = retention or Retention(None)
        self._p = prefix
        self._client: Redis | None = None

    async def start(self) -> None:
        # Connected here, not in __init__: the client belongs to the loop that runs start().
        client = await connect_redis(self._url)
        self._vote_script = client.register_script(_VOTE)
        self._client = client
        await self._retention.purge_if_due(self.purge)

    async def stop(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()  # from_pool hands the pool to the client: aclose() closes it too

    @property
    def _redis(self) -> Redis:
        if self._client is None:
            raise RuntimeError("RedisAnswerLog.start() was not awaited")
        return self._client

    async def save_answer(self, query: Query, answer: Answer) -> str:
        await self._retention.purge_if_due(self.purge)
        answer_id = uuid.uuid4().hex
        created_at = self._retention.clock()
        fields: dict[FieldT, EncodableT] = {
            "created_at": repr(created_at),
            "question": query.text,
            "answer": answer.text,
            "answered": int(answer.answered),
            "sources": json.dumps(source_keys(answer), ensure_ascii=False),
        }
        for name in _ORIGIN:  # redis-py refuses None values; a missing field reads back as None
            value = getattr(query.origin, name)
            if value is not None:
                fields[name] = value
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._p + f"answer:{answer_id}", mapping=fields)
            pipe.zadd(self._p + "answers", {answer_id: created_at})
            await pipe.execute()
        return answer_id

    async def vote(self, answer_id: str, voter: str, vote: Vote) -> bool:
        keys = [self._p + f"answer:{answer_id}", self._p + f"votes:{answer_id}", self._p + "voted"]
        return bool(await self._vote_script(keys=keys, args=[voter, vote, answer_id]))

    async def recent(self, limit: int = 20, only_voted: bool = False) -> list[AnswerRecord]:
        index = self._p + ("voted" if only_voted else "answers")
        # decode_responses=True: replies are str (the type stubs cannot know it).
        ids = cast(list[str], await self._redis.zrevrange(index, 0, limit - 1))
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:  # one round trip
            for answer_id in ids:
                pipe.hgetall(self._p + f"answer:{answer_id}")
                pipe.hvals(self._p + f"votes:{answer_id}")
            replies = await pipe.execute()
        records = []
        for answer_id, row, votes in zip(ids, replies[::2], replies[1::2], strict=True):
            if not row:  # purged between the two reads
                continue
            records.append(
                AnswerRecord(
                    id=answer_id,
                    created_at=float(row["created_at"]),
                    platform=row.get("platform"),
                    workspace=row.get("workspace"),
                    channel=row.get("channel"),
                    user=row.get("user"),
                    question=row["question"],
                    answer=row["answer"],
                    answered=row["answered"] == "1",
                    sources=tuple(json.loads(row["sources"])),
                    up=votes.count("up"),
                    down=votes.count("down"),
                )
            )
        return records

    async def purge(self, older_than_days: float | None = None) -> int:
        """Delete answers (and their votes) older than the given days, or all; returns how
        many answers went. Only this store's keys: the database may be shared."""
        cutoff = self._retention.cutoff(older_than_days)
        bound = "+inf" if math.isinf(cutoff) else f"({cutoff}"
        purged = 0
        while True:
            ids = cast(
                list[str],
                await self._redis.zrangebyscore(
                    self._p + "answers", "-inf", bound, start=0, num=_PURGE_BATCH
                ),
            )
            if not ids:
                return purged
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(*(self._p + f"{kind}:{i}" for i in ids for kind in ("answer", "votes")))
                pipe.zrem(self._p + "answers", *ids)
                pipe.zrem(self._p + "voted", *ids)
                await pipe.execute()
            purged += len(ids)
