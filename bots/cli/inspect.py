"""`helpbot feedback` and `helpbot stats`: what was answered and voted, what is indexed."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit, urlunsplit

from bots.cli.output import json_text, plain_text
from core import (
    BadInputError,
    Helpbot,
    RootRecord,
    Settings,
    StaleChunkingError,
    build_answer_log,
)

__all__ = ["FeedbackCommand", "StatsCommand", "redact_uri", "run_feedback", "run_stats"]


@dataclass(frozen=True)
class FeedbackCommand:
    """How many recent answers, only voted ones, as JSON lines, or purge them all."""

    limit: int = 20
    voted: bool = False
    json: bool = False
    purge: bool = False


@dataclass(frozen=True)
class StatsCommand:
    json: bool = False


async def run_feedback(settings: Settings, command: FeedbackCommand) -> int:
    """List recent answers with their votes, or delete them all with `purge`."""
    if command.limit < 1:
        raise BadInputError("--limit must be at least 1")
    # Only the answer log: this runs beside a bot that holds the Milvus Lite file.
    answer_log = build_answer_log(settings)
    await answer_log.start()
    try:
        if command.purge:
            purged = await answer_log.purge()
            print(f"deleted {purged} answers and their votes")
            return 0
        records = await answer_log.recent(command.limit, only_voted=command.voted)
    finally:
        await answer_log.stop()
    for record in records:
        if command.json:
            print(json_text(asdict(record)))
            continue
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.created_at))
        where = "/".join(part for part in (record.platform, record.channel, record.user) if part)
        # Questions come from chat users and sources from documents: printed plain.
        print(plain_text(f"{when}  +{record.up} -{record.down}  {where or '-'}  {record.question}"))
        for source in record.sources:
            print(plain_text(f"    {source}"))
    if not records and not command.json:
        print("no answers recorded yet")
    return 0


async def run_stats(settings: Settings, command: StatsCommand) -> int:
    """The collection, its chunk and source counts per knowledge base, and the models."""
    async with Helpbot(settings) as bot:
        exists = await bot.store.exists()
        model, dim, refs, chunking, stale = None, None, [], "current", False
        roots: list[RootRecord] = []
        if exists:
            model, dim = await bot.store.embedding_model()
            try:
                await bot.store.open(model, dim)
                refs = await bot.store.chunk_refs()
            except StaleChunkingError as exc:
                chunking, stale = str(exc), True
            roots = await bot.store.root_records()
    per_kb = Counter(ref.kb for ref in refs)
    ingested = [_root_json(root) for root in sorted(roots, key=lambda r: (r.kb, r.scope))]
    sources = {(ref.kb, ref.source) for ref in refs}
    stats = {
        "milvus_uri": redact_uri(settings.milvus_uri),
        "collection": settings.milvus_collection,
        "exists": exists,
        "chunks": None if stale else len(refs),
        "sources": None if stale else len(sources),
        "knowledge_bases": {
            kb: {"chunks": n, "sources": sum(1 for k, _ in sources if k == kb)}
            for kb, n in sorted(per_kb.items())
        },
        "ingested": ingested,
        "search": bot.store.layout,
        "chunking": chunking,
        "embedding_model": model,
        "embedding_dim": dim,
        "configured_embedding_model": bot.embedder.model_id,
        "answer_mode": bot.service.mode,
        "llm_model": settings.llm_model if settings.llm_configured else None,
    }
    if command.json:
        print(json_text(stats))
        return 0
    del stats["ingested"]
    width = max(len(k) for k in stats)
    for key, value in stats.items():
        print(plain_text(f"{key:<{width}}  {value}"))
    for root in ingested:
        state = f"FAILING: {root['error']}" if root["error"] else "ok"
        when = root["synced_at"] or "unknown"
        line = f"  {root['kb']}: {root['origin']} ({root['owner']}; synced {when}; {state})"
        print(plain_text(line))
    return 0


def _root_json(root: RootRecord) -> dict[str, object]:
    """One ingested root: where it came from, who added it, its last sync."""
    synced = (
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(root.synced_at)) if root.synced_at else None
    )
    return {
        "kb": root.kb,
        "scope": root.scope,
        "origin": redact_uri(root.origin) if "://" in root.origin else root.origin,
        "owner": root.owner,
        "synced_at": synced,
        "error": root.error or None,
    }


def redact_uri(uri: str) -> str:
    """A URI safe to print: any user:password part is dropped."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return uri
