"""Answers and votes in Redis (REDIS_URL), shared by every bot process; the same interface as
the SQLite `SqliteAnswerLog`.

Layout (prefix P, default "helpbot:feedback:"):
  P answer:<id>  HASH   created_at, question, answer, answered ("1"/"0"), sources (JSON list),
                        details (JSON), platform / workspace / channel / user (those not None),
                        stale ("1" once a sync changed a cited section), stale_at (when),
                        stale_cited (which citation),
                        noticed (its notice was claimed: HSETNX, so once across processes)
  P votes:<id>   HASH   voter -> "up" | "down" | "down:<reason>"   (HSET: one vote per person)
  P answers      ZSET   <id> scored by created_at   (recent(): ZREVRANGE; purge: ZRANGEBYSCORE)
  P voted        ZSET   <id> scored by created_at, for answers with at least one vote
  P stale        ZSET   <id> scored by created_at, stale answers whose notice is not claimed
  P went_stale   ZSET   <id> scored by stale_at, every stale answer (the digest's list)
  P cited:<chunk id>  ZSET  <id> scored by created_at, the answers that cite that chunk (a
                        sync that removes the chunk reads only them, then drops the key)
  P cited_indexed STRING set once the answers logged before that index are in it
  P gaps         HASH   gap id -> status (JSON)
  P last_digest:<platform>  STRING when that platform's last digest was claimed (a Lua
                        check-and-set; P last_digest, from before, is read when it is missing)
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Collection, Iterable
from typing import cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.typing import EncodableT, FieldT

from core.learning.answer_log import (
    AnswerRecord,
    GapStatus,
    LoggedOutcome,
    Retention,
    Vote,
    answer_details,
    changed_citation,
    cited_chunk_ids,
    failure_details,
    record_from,
    source_keys,
)
from core.models import Answer, Query
from core.redis_client import connect_redis

_ORIGIN = ("platform", "workspace", "channel", "user")
_BASE = ("question", "answer", "answered", "sources")
_PURGE_BATCH = 500

# Atomic: no vote is stored for an answer that does not exist (or was just purged).
_VOTE = """
local created = redis.call('HGET', KEYS[1], 'created_at')
if not created then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], created, ARGV[3])
return 1
"""

# Atomic across processes: only one claims a digest that is due.
# The stored time is returned as stored: Lua's tostring() keeps 14 digits, so a claim given
# back (release) would restore a time up to 0.0001 s off, and the retry could fall short of
# `every_s` by that much.
_CLAIM_DIGEST = """
local last = redis.call('GET', KEYS[1]) or redis.call('GET', KEYS[2]) or '0'
if tonumber(ARGV[1]) - tonumber(last) < tonumber(ARGV[2]) then return false end
redis.call('SET', KEYS[1], ARGV[1])
return last
"""

_RELEASE_DIGEST = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) end
"""


class RedisAnswerLog:
    """Answers and votes under one key prefix in Redis."""

    def __init__(
        self,
        url: str,
        retention: Retention | None = None,
        prefix: str = "helpbot:feedback:",
        keep_questions: bool = True,
    ) -> None:
        self._url = url
        self._retention = retention or Retention(None)
        self._keep_questions = keep_questions
        self._p = prefix
        self._client: Redis | None = None

    async def start(self) -> None:
        # Connected here, not in __init__: the client belongs to the loop that runs start().
        client = await connect_redis(self._url)
        self._vote_script = client.register_script(_VOTE)
        self._digest_script = client.register_script(_CLAIM_DIGEST)
        self._release_script = client.register_script(_RELEASE_DIGEST)
        self._client = client
        await self._retention.purge_if_due(self.purge)
        await self._index_citations()

    async def _index_citations(self) -> None:
        """Answers logged before the `cited:` index existed are added to it, once."""
        if await self._redis.exists(self._p + "cited_indexed"):
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for record in await self.between(0.0):
                _cite(
                    pipe,
                    self._p,
                    record.id,
                    record.created_at,
                    [c.chunk_id for c in record.citations],
                )
            pipe.set(self._p + "cited_indexed", "1")
            await pipe.execute()

    async def stop(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()  # from_pool hands the pool to the client: aclose() closes it too

    @property
    def _redis(self) -> Redis:
        if self._client is None:
            raise RuntimeError("RedisAnswerLog.start() was not awaited")
        return self._client

    async def save_answer(
        self, query: Query, answer: Answer, latency_ms: float | None = None
    ) -> str:
        details = answer_details(query, answer, latency_ms)
        return await self._save(query, answer.text, answer.answered, source_keys(answer), details)

    async def save_failure(
        self, query: Query, outcome: LoggedOutcome, language: str, latency_ms: float | None = None
    ) -> str:
        return await self._save(
            query, "", False, [], failure_details(query, outcome, language, latency_ms)
        )

    async def _save(
        self, query: Query, text: str, answered: bool, sources: list[str], details: str
    ) -> str:
        await self._retention.purge_if_due(self.purge)
        answer_id = uuid.uuid4().hex
        created_at = self._retention.clock()
        fields: dict[FieldT, EncodableT] = {
            "created_at": repr(created_at),
            "question": query.text if self._keep_questions else "",
            "answer": text,
            "answered": int(answered),
            "sources": json.dumps(sources, ensure_ascii=False),
            "details": details,
        }
        for name in _ORIGIN:  # redis-py refuses None values; a missing field reads back as None
            value = getattr(query.origin, name)
            if value is not None:
                fields[name] = value
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._p + f"answer:{answer_id}", mapping=fields)
            pipe.zadd(self._p + "answers", {answer_id: created_at})
            _cite(pipe, self._p, answer_id, created_at, cited_chunk_ids(details))
            await pipe.execute()
        return answer_id

    async def place_answer(self, answer_id: str, thread: str) -> None:
        key = self._p + f"answer:{answer_id}"

        async def place(pipe: Pipeline) -> None:  # retried if the answer changes meanwhile
            details = cast(str | None, await pipe.hget(key, "details"))
            if details is None:
                return
            pipe.multi()
            pipe.hset(
                key,
                "details",
                json.dumps(json.loads(details) | {"thread": thread}, ensure_ascii=False),
            )

        await self._redis.transaction(place, key)

    async def vote(self, answer_id: str, voter: str, vote: Vote, reason: str | None = None) -> bool:
        keys = [self._p + f"answer:{answer_id}", self._p + f"votes:{answer_id}", self._p + "voted"]
        value = f"{vote}:{reason}" if reason else vote
        return bool(await self._vote_script(keys=keys, args=[voter, value, answer_id]))

    async def recent(self, limit: int = 20, only_voted: bool = False) -> list[AnswerRecord]:
        index = self._p + ("voted" if only_voted else "answers")
        # decode_responses=True: replies are str (the type stubs cannot know it).
        ids = cast(list[str], await self._redis.zrevrange(index, 0, limit - 1))
        return await self._records(ids)

    async def between(self, start: float, end: float = math.inf) -> list[AnswerRecord]:
        bound = "+inf" if math.isinf(end) else f"({end}"
        ids = cast(list[str], await self._redis.zrangebyscore(self._p + "answers", start, bound))
        return await self._records(ids)

    async def mark_stale(self, removed: Iterable[str], kept: set[tuple[str, str]]) -> int:
        gone = set(removed)
        if not gone:
            return 0
        keys = [self._p + f"cited:{chunk_id}" for chunk_id in sorted(gone)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zrange(key, 0, -1)
            citing = sorted({answer_id for ids in await pipe.execute() for answer_id in ids})
        records = await self._records(citing)
        changed = {r.id: changed_citation(r, gone, kept) for r in records if not r.stale}
        now_stale = [r for r in records if changed.get(r.id) is not None]
        now = self._retention.clock()
        async with self._redis.pipeline(transaction=True) as pipe:
            for record in now_stale:
                key = self._p + f"answer:{record.id}"
                marked: dict[FieldT, EncodableT] = {
                    "stale": "1",
                    "stale_at": repr(now),
                    "stale_cited": str(changed[record.id]),
                }
                pipe.hset(key, mapping=marked)
            if now_stale:
                pipe.zadd(self._p + "stale", {r.id: r.created_at for r in now_stale})
                pipe.zadd(self._p + "went_stale", {r.id: now for r in now_stale})
            pipe.delete(*keys)  # those chunks are gone: nothing will remove them again
            await pipe.execute()
        return len(now_stale)

    async def claim_stale_notices(
        self, platforms: Collection[str], limit: int = 20
    ) -> list[AnswerRecord]:
        ids = cast(list[str], await self._redis.zrange(self._p + "stale", 0, -1))
        claimed = []
        for record in await self._records(ids):
            if record.platform not in platforms:
                continue  # another process, on that platform, sends it
            key = self._p + f"answer:{record.id}"
            if await self._redis.hsetnx(key, "noticed", repr(self._retention.clock())):
                claimed.append(record)
            await self._redis.zrem(self._p + "stale", record.id)
            if len(claimed) == limit:
                break
        return claimed

    async def gone_stale(self, start: float, end: float = math.inf) -> list[AnswerRecord]:
        bound = "+inf" if math.isinf(end) else f"({end}"
        ids = cast(list[str], await self._redis.zrangebyscore(self._p + "went_stale", start, bound))
        return await self._records(ids)

    async def gap_statuses(self) -> dict[str, GapStatus]:
        found = cast(dict[str, str], await self._redis.hgetall(self._p + "gaps"))
        return {gap_id: GapStatus.from_json(value) for gap_id, value in found.items()}

    async def set_gap_status(self, gap_id: str, status: GapStatus) -> None:
        await self._redis.hset(self._p + "gaps", gap_id, status.to_json())

    async def claim_digest(self, now: float, every_s: float, platform: str) -> float | None:
        # The second key: a log from before each platform had its own schedule.
        keys = [self._p + f"last_digest:{platform}", self._p + "last_digest"]
        last = await self._digest_script(keys=keys, args=[repr(now), every_s])
        return None if last is None else float(last)

    async def release_digest(self, claimed: float, last: float, platform: str) -> None:
        key = self._p + f"last_digest:{platform}"
        await self._release_script(keys=[key], args=[repr(claimed), repr(last)])

    async def _records(self, ids: list[str]) -> list[AnswerRecord]:
        """The answers with these ids (those still kept), in the same order, with votes."""
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
            base = {
                "id": answer_id,
                "created_at": float(row["created_at"]),
                **{name: row.get(name) for name in _ORIGIN},
                "question": row["question"],
                "answer": row["answer"],
                "answered": row["answered"] == "1",
                "sources": tuple(json.loads(row["sources"])),
            }
            parsed = [_vote_and_reason(value) for value in votes]
            stale_at = float(row["stale_at"]) if "stale_at" in row else None
            cited = int(row["stale_cited"]) if "stale_cited" in row else None
            stale = row.get("stale") == "1"
            records.append(record_from(base, row.get("details"), parsed, stale, stale_at, cited))
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
            async with self._redis.pipeline(transaction=False) as pipe:
                for answer_id in ids:
                    pipe.hget(self._p + f"answer:{answer_id}", "details")
                details = await pipe.execute()
            async with self._redis.pipeline(transaction=True) as pipe:
                for answer_id, found in zip(ids, details, strict=True):
                    for chunk_id in cited_chunk_ids(found):
                        pipe.zrem(self._p + f"cited:{chunk_id}", answer_id)
                pipe.delete(*(self._p + f"{kind}:{i}" for i in ids for kind in ("answer", "votes")))
                pipe.zrem(self._p + "answers", *ids)
                pipe.zrem(self._p + "voted", *ids)
                pipe.zrem(self._p + "stale", *ids)
                pipe.zrem(self._p + "went_stale", *ids)
                await pipe.execute()
            purged += len(ids)


def _cite(
    pipe: Pipeline, prefix: str, answer_id: str, created_at: float, chunk_ids: Iterable[str]
) -> None:
    """Queue the answer's entry in the index of each chunk it cites."""
    for chunk_id in chunk_ids:
        pipe.zadd(prefix + f"cited:{chunk_id}", {answer_id: created_at})


def _vote_and_reason(value: str) -> tuple[str, str | None]:
    """ "down:outdated" -> ("down", "outdated"); "up" -> ("up", None)."""
    vote, _, reason = value.partition(":")
    return vote, reason or None
