"""`helpbot`: ingest documents, ask questions, chat, and inspect the index from a terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tqdm import tqdm

from core.container import Helpbot
from core.errors import BadInputError, ConfigError, HelpbotError
from core.ingest import IngestReport
from core.models import Answer, Query, Turn
from core.settings import Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `helpbot` console script; returns the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings()
        return asyncio.run(args.handler(settings, args))
    except (BadInputError, ConfigError) as exc:
        _fail(str(exc))
        return EXIT_BAD_INPUT
    except HelpbotError as exc:
        _fail(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpbot", description="Answers questions from your team's documents, with sources."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="add or sync files and folders into the index")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ingest.add_argument("--kb", help="knowledge base name (default: KNOWLEDGE_BASE)")
    ingest.add_argument(
        "--url", help='link template for sources, e.g. "https://milvus.io/docs/{stem}.md"'
    )
    ingest.add_argument(
        "--recreate", action="store_true", help="drop the collection first (after a model change)"
    )
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")
    ingest.set_defaults(handler=_ingest)

    ask = commands.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--kb", help="knowledge base to search (default: KNOWLEDGE_BASE)")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.set_defaults(handler=_ask)

    chat = commands.add_parser("chat", help="ask questions interactively, with follow-ups")
    chat.add_argument("--kb", help="knowledge base to search (default: KNOWLEDGE_BASE)")
    chat.set_defaults(handler=_chat)

    stats = commands.add_parser("stats", help="show the collection, its size and its model")
    stats.add_argument("--json", action="store_true", help="print the stats as JSON")
    stats.set_defaults(handler=_stats)
    return parser


async def _ingest(settings: Settings, args: argparse.Namespace) -> int:
    async with Helpbot(settings) as bot:
        if args.recreate:
            await bot.store.drop()
        with _Progress(enabled=not args.json) as progress:
            report = await bot.ingestor.sync(
                args.paths, bot.ingest_options(args.kb, args.url), progress.update
            )
    if args.json:
        print(json.dumps(_report_json(report), ensure_ascii=False))
    else:
        for skipped in report.skipped:
            print(f"skipped {skipped.source}: {skipped.reason}", file=sys.stderr)
        print(report.summary())
    return EXIT_OK


async def _ask(settings: Settings, args: argparse.Namespace) -> int:
    async with Helpbot(settings) as bot:
        query = Query(args.question, knowledge_bases=(args.kb or settings.knowledge_base,))
        if args.json:
            answer = await bot.service.answer(query)
            print(json.dumps(answer_json(answer), ensure_ascii=False))
            return EXIT_OK
        async for event in bot.service.stream(query):
            if isinstance(event, Answer):
                print()
                _print_sources(event)
            else:
                print(event, end="", flush=True)
    return EXIT_OK


async def _chat(settings: Settings, args: argparse.Namespace) -> int:
    history: list[Turn] = []
    print("Ask a question about your docs (empty line or Ctrl-D to quit).")
    async with Helpbot(settings) as bot:
        while True:
            try:
                question = (await asyncio.to_thread(input, "\n> ")).strip()
            except EOFError:
                break
            if not question:
                break
            query = Query(
                question,
                history=tuple(history),
                knowledge_bases=(args.kb or settings.knowledge_base,),
            )
            try:
                async for event in bot.service.stream(query):
                    if isinstance(event, Answer):
                        print()
                        _print_sources(event)
                        history += [Turn("user", question), Turn("assistant", event.text)]
                    else:
                        print(event, end="", flush=True)
            except HelpbotError as exc:
                print(exc.user_message(), file=sys.stderr)
    return EXIT_OK


async def _stats(settings: Settings, args: argparse.Namespace) -> int:
    async with Helpbot(settings) as bot:
        exists = await bot.store.exists()
        model, dim, refs = None, None, []
        if exists:
            model, dim = await bot.store.embedding_model()
            await bot.store.open(model, dim)
            refs = await bot.store.chunk_refs()
    per_kb = Counter(ref.kb for ref in refs)
    sources = {(ref.kb, ref.source) for ref in refs}
    stats = {
        "milvus_uri": redact_uri(settings.milvus_uri),
        "collection": settings.milvus_collection,
        "exists": exists,
        "chunks": len(refs),
        "sources": len(sources),
        "knowledge_bases": {
            kb: {"chunks": n, "sources": sum(1 for k, _ in sources if k == kb)}
            for kb, n in sorted(per_kb.items())
        },
        "embedding_model": model,
        "embedding_dim": dim,
        "configured_embedding_model": bot.embedder.model_id,
        "answer_mode": bot.service.mode,
        "llm_model": settings.llm_model if settings.llm_configured else None,
    }
    if args.json:
        print(json.dumps(stats, ensure_ascii=False))
    else:
        width = max(len(k) for k in stats)
        for key, value in stats.items():
            print(f"{key:<{width}}  {value}")
    return EXIT_OK


def answer_json(answer: Answer) -> dict[str, Any]:
    """The stable JSON shape of `helpbot ask --json`."""
    return {
        "answer": answer.text,
        "answered": answer.answered,
        "mode": answer.mode,
        "sources": [
            {k: v for k, v in asdict(source).items() if k != "number"} for source in answer.sources
        ],
        "timings": asdict(answer.timings),
    }


def _report_json(report: IngestReport) -> dict[str, Any]:
    return {
        "files": report.files,
        "chunks_added": report.chunks_added,
        "chunks_updated": report.chunks_updated,
        "chunks_unchanged": report.chunks_unchanged,
        "chunks_deleted": report.chunks_deleted,
        "files_deleted": report.files_deleted,
        "skipped": [{"source": s.source, "reason": s.reason} for s in report.skipped],
        "seconds": round(report.seconds, 3),
    }


def _print_sources(answer: Answer) -> None:
    if answer.sources:
        print("\nSources:")
    for source in answer.sources:
        link = f" <{source.url}>" if source.url else ""
        print(f"  [{source.number}] {source.title} > {source.heading} ({source.source}){link}")
    t = answer.timings
    print(
        f"\n({answer.mode}; embed {t.embed_ms:.0f} ms, search {t.search_ms:.0f} ms, "
        f"generate {t.generate_ms:.0f} ms, total {t.total_ms:.0f} ms)",
        file=sys.stderr,
    )


def redact_uri(uri: str) -> str:
    """A URI safe to print: any user:password part is dropped."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return uri


def _fail(message: str) -> None:
    print(f"helpbot: error: {message}", file=sys.stderr)


class _Progress:
    """tqdm bars for the ingest stages, on stderr and only on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._bars: dict[str, tqdm] = {}

    def update(self, stage: str, done: int, total: int) -> None:
        if not self._enabled or total == 0:
            return
        bar = self._bars.get(stage)
        if bar is None:
            label = {"read": "reading files", "embed": "embedding chunks"}.get(stage, stage)
            bar = self._bars[stage] = tqdm(total=total, desc=label, unit="", disable=None)
        bar.update(done - bar.n)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        for bar in self._bars.values():
            bar.close()
