"""What a sync costs the answer log: marking stale the answers that cited a removed chunk.

A log of `--answers` answers (3 citations each, drawn from 3,000 chunks) is built in a
temporary SQLite file (and in Redis with `--redis URL`, under a prefix of its own that is
deleted after). For each count of removed chunks, it times:

- the baseline: what the log did before, every answer read and checked in Python
  (`between(0)` and `stale_citations`, both public);
- `mark_stale`: the answers citing a removed chunk found by the store (SQLite's JSON
  functions; Redis's `cited:` index), then checked and marked.

`ratio` is the baseline's time over `mark_stale`'s. The baseline runs first, since
`mark_stale` marks answers.

Run: .venv/bin/python bench/stale_marking.py [--answers 20000] [--redis redis://...]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from redis.asyncio import Redis

from corpus_paths import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT))

from core.learning.answer_log import stale_citations
from core.learning.redis_answer_log import RedisAnswerLog
from core.learning.sqlite_answer_log import SqliteAnswerLog
from core.models import Answer, Query, Source

CHUNKS = 3000
CITED = 3

AnswerLog = SqliteAnswerLog | RedisAnswerLog


def answer(chunks: list[str], rng: random.Random) -> Answer:
    cited = rng.sample(chunks, CITED)
    sources = tuple(
        Source(n, f"docs/{c[:4]}.md", "A page", "A heading", "text " * 40, 0.9, None, c, c[:16])
        for n, c in enumerate(cited, start=1)
    )
    return Answer("An answer of a few sentences. " * 20, True, "extractive", sources)


async def fill(log: AnswerLog, count: int, chunks: list[str]) -> None:
    rng = random.Random(7)
    for n in range(count):
        await log.save_answer(Query(f"question number {n} about the docs"), answer(chunks, rng))


async def measure(name: str, log: AnswerLog, chunks: list[str], removed_counts: list[int]) -> None:
    for count in removed_counts:
        removed = set(random.Random(count).sample(chunks, count))
        started = time.perf_counter()
        records = await log.between(0.0)
        before = sum(1 for r in records if not r.stale and stale_citations(r, removed, set()))
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        marked = await log.mark_stale(removed, set())
        now = time.perf_counter() - started
        print(
            f"| {name} | {count} | {before} | {baseline:.2f} | {marked} | {now:.3f} "
            f"| {baseline / now:.1f}x |"
        )


async def run(args: argparse.Namespace) -> None:
    chunks = [uuid.uuid4().hex for _ in range(CHUNKS)]
    removed_counts = [1, 100]
    print(f"{args.answers} answers, {CITED} citations each, from {CHUNKS} chunks\n")
    print(
        "| store | chunks removed | baseline: stale found | baseline s | mark_stale: "
        "marked | mark_stale s | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        sqlite = SqliteAnswerLog(Path(folder) / "log.sqlite")
        await sqlite.start()
        await fill(sqlite, args.answers, chunks)
        await measure("SQLite", sqlite, chunks, removed_counts)
        await sqlite.stop()
    if args.redis:
        prefix = f"helpbot-bench-{uuid.uuid4().hex[:8]}:"
        redis = RedisAnswerLog(args.redis, prefix=prefix)
        await redis.start()
        try:
            await fill(redis, args.answers, chunks)
            await measure("Redis", redis, chunks, removed_counts)
        finally:
            await redis.stop()
            async with Redis.from_url(args.redis) as client:
                async for key in client.scan_iter(match=prefix + "*", count=1000):
                    await client.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=20000)
    parser.add_argument("--redis", help="also measure a Redis log at this URL")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
