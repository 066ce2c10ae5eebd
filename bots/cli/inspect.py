"""`helpbot feedback` and `helpbot stats`: what was answered and voted, what is indexed."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bots.cli.output import json_text, plain_text
from core import (
    AnswerRecord,
    BadInputError,
    Helpbot,
    RootRecord,
    Settings,
    StaleChunkingError,
    build_answer_log,
    create_private_file,
)

__all__ = ["FeedbackCommand", "StatsCommand", "redact_uri", "run_feedback", "run_stats"]


@dataclass(frozen=True)
class FeedbackCommand:
    """How many recent answers, only voted ones, as JSON lines, or purge them all."""

    limit: int = 20
    voted: bool = False
    json: bool = False
    purge: bool = False
    export_eval: Path | None = None
    """Write the votes as eval cases here instead of listing answers."""


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
        if command.export_eval is not None:
            cases = eval_cases(await answer_log.between(0.0))
            _write_private(command.export_eval, "".join(json_text(c) + "\n" for c in cases))
            labelled = sum(1 for case in cases if not case.get("needs_label"))
            print(
                f"wrote {len(cases)} cases to {command.export_eval}: {labelled} labelled from "
                f'👍 answers, {len(cases) - labelled} to label (👎 or "I don\'t know")'
            )
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
        votes = f"+{record.up} -{record.down}" + ("  stale" if record.stale else "")
        print(plain_text(f"{when}  {votes}  {where or '-'}  {record.question}"))
        for source in record.sources:
            print(plain_text(f"    {source}"))
    if not records and not command.json:
        print("no answers recorded yet")
    return 0


def eval_cases(records: list[AnswerRecord]) -> list[dict[str, Any]]:
    """Votes as `helpbot eval` cases, one per question: a 👍 answer labelled with the sections
    it cited; a 👎 or "I don't know" as a case that needs a label (never `source: null`,
    which says the docs do not answer). Replies without their question are left out."""
    cases: dict[str, dict[str, Any]] = {}
    for record in records:
        question = record.question.strip()
        if not question or question in cases:
            continue
        if record.up > record.down and record.citations:
            answers = [{"source": c.source, "heading": c.heading} for c in record.citations]
            cases[question] = {"question": question, "lang": record.language, "answers": answers}
        elif record.down > record.up or record.outcome == "dont_know":
            why = "down-voted" if record.down > record.up else "dont_know"
            cases[question] = {
                "question": question,
                "lang": record.language,
                "needs_label": True,
                "why": why,
            }
    return list(cases.values())


def _write_private(path: Path, text: str) -> None:
    """Questions are the users': the file is readable by its owner only."""
    try:
        create_private_file(path)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BadInputError(f"cannot write {path}: {exc.strerror or exc}") from exc


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
    knowledge_bases = {
        kb: {"chunks": n, "sources": sum(1 for k, _ in sources if k == kb)}
        for kb, n in sorted(per_kb.items())
    }
    stats = {
        "milvus_uri": redact_uri(settings.milvus_uri),
        "collection": settings.milvus_collection,
        "exists": exists,
        "chunks": None if stale else len(refs),
        "sources": None if stale else len(sources),
        "knowledge_bases": None if stale else knowledge_bases,  # unknown until re-ingested
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
        print(plain_text(f"{key:<{width}}  {'-' if value is None else value}"))
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
