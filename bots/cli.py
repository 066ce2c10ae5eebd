"""`helpbot`: ingest documents, ask questions, chat, and inspect the index from a terminal."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import discord
import watchfiles
from tqdm import tqdm

from bots.discord_bot import DiscordBot
from bots.health import HealthServer
from bots.logs import configure_logging
from bots.metrics import Metrics
from bots.shared_state import SharedState
from bots.slack_bot import SlackBot
from core.container import Helpbot, build_feedback
from core.errors import BadInputError, ConfigError, HelpbotError
from core.evaluation import evaluate, load_eval_items, summarize
from core.ingest import IngestReport
from core.messages import detect_language
from core.milvus_store import Hit
from core.models import Answer, Query, Turn
from core.settings import Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # what a shell reports for `... | head`


_WATCH_DEBOUNCE_MS = 1500
_KNOWLEDGE_BASE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `helpbot` console script; returns the process exit code."""
    args = _parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else args.log_level
    configure_logging(level)
    try:
        settings = load_settings()
        configure_logging(level, settings.log_format)
        if asyncio.iscoroutinefunction(args.handler):
            return int(asyncio.run(args.handler(settings, args)))
        return int(args.handler(settings, args))
    except (BadInputError, ConfigError) as exc:
        _fail(str(exc))
        return EXIT_BAD_INPUT
    except HelpbotError as exc:
        _fail(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped reading (`helpbot ask ... | head`): no error to report. stdout
        # goes to devnull so Python's final flush does not fail again (Python's own recipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # the last resort: one line, the traceback only with -v
        logging.getLogger("helpbot").debug("unexpected error", exc_info=True)
        _fail(f"unexpected {type(exc).__name__}: {exc} (run with -v for details)")
        return EXIT_FAILED


def _add_kb_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--kb", type=_knowledge_base, help=f"{what} (default: KNOWLEDGE_BASE)")


def _knowledge_base(value: str) -> str:
    if not _KNOWLEDGE_BASE.match(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a knowledge base name (letters, digits, _ . -, up to 64)"
        )
    return value


def _add_health_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--health-port",
        type=int,
        help="serve /healthz, /readyz and /metrics on this port (default: HEALTH_PORT)",
    )
    parser.add_argument(
        "--health-host", default="0.0.0.0", help="address for --health-port (default 0.0.0.0)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpbot", description="Answers questions from your team's documents, with sources."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    # One-shot commands log warnings and up; long-running ones also each question (INFO).
    parser.set_defaults(log_level=logging.WARNING)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="add or sync files and folders into the index")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="file, folder, .zip or URL")
    _add_kb_option(ingest, "knowledge base to write to")
    ingest.add_argument(
        "--url", help='link template for sources, e.g. "https://milvus.io/docs/{stem}.md"'
    )
    ingest.add_argument(
        "--recreate",
        action="store_true",
        help="drop the whole collection first, every knowledge base in it (after a model change)",
    )
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")
    ingest.add_argument(
        "--watch",
        action="store_true",
        help="after the first sync, keep watching the files and folders and sync every change",
    )
    _add_health_options(ingest)
    ingest.set_defaults(handler=_ingest)

    ask = commands.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    _add_kb_option(ask, "knowledge base to search")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.set_defaults(handler=_ask)

    chat = commands.add_parser("chat", help="ask questions interactively, with follow-ups")
    _add_kb_option(chat, "knowledge base to search")
    chat.set_defaults(handler=_chat)

    evaluate = commands.add_parser(
        "eval", help="measure retrieval quality on a labelled question file (JSONL)"
    )
    evaluate.add_argument("file", type=Path, metavar="FILE.jsonl")
    evaluate.add_argument("--k", type=int, default=3, help="cut-off for recall@k (default 3)")
    _add_kb_option(evaluate, "knowledge base to search")
    evaluate.add_argument("--json", action="store_true", help="print the figures as JSON")
    evaluate.add_argument(
        "--answers",
        action="store_true",
        help="count \"I don't know\" from full answers, the language model's refusals included "
        "(needs LLM_BASE_URL or LLM_API_KEY; one model call a question)",
    )
    evaluate.set_defaults(handler=_eval)

    slack = commands.add_parser("slack", help="run the Slack bot (Socket Mode, or --http)")
    slack.add_argument(
        "--http", action="store_true", help="serve the Events API instead of Socket Mode"
    )
    slack.add_argument("--host", default="0.0.0.0", help="HTTP mode: address to listen on")
    slack.add_argument("--port", type=int, default=3000, help="HTTP mode: port (default 3000)")
    _add_health_options(slack)
    slack.set_defaults(handler=_slack, log_level=logging.INFO)

    discord_ = commands.add_parser("discord", help="run the Discord bot")
    _add_health_options(discord_)
    discord_.set_defaults(handler=_discord, log_level=logging.INFO)

    feedback = commands.add_parser("feedback", help="list recent answers and their votes")
    feedback.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    feedback.add_argument("--voted", action="store_true", help="only answers with votes")
    feedback.add_argument("--json", action="store_true", help="print them as JSON lines")
    feedback.add_argument(
        "--purge",
        action="store_true",
        help="delete every stored answer and vote now (questions and user ids with them)",
    )
    feedback.set_defaults(handler=_feedback)

    stats = commands.add_parser("stats", help="show the collection, its size and its model")
    stats.add_argument("--json", action="store_true", help="print the stats as JSON")
    stats.set_defaults(handler=_stats)
    return parser


async def _ingest(settings: Settings, args: argparse.Namespace) -> int:
    if args.watch:
        remote = [path for path in args.paths if "://" in path]
        if remote:
            raise BadInputError(f"--watch needs local files and folders, not {remote[0]}")
        with _stop_on_signals() as stop:
            await _watch(settings, args, stop)
        return EXIT_OK
    async with Helpbot(settings) as bot:
        if args.recreate:
            await bot.store.drop()
        with _Progress(enabled=not args.json) as progress:
            report = await bot.ingestor.sync(
                args.paths, bot.ingest_options(args.kb, args.url), progress.update
            )
    _print_report(report, args.json)
    return EXIT_OK


def _print_report(report: IngestReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_report_json(report), ensure_ascii=False), flush=True)
        return
    for skipped in report.skipped:
        print(f"skipped {skipped.source}: {skipped.reason}", file=sys.stderr)
    print(report.summary(), flush=True)


async def _watch(settings: Settings, args: argparse.Namespace, stop: asyncio.Event) -> None:
    """Sync once, then again after every batch of changes under the paths, until stopped.
    A failed sync is reported and counted, and the next change tries again."""
    metrics = Metrics()
    async with Helpbot(settings) as bot, _health_server(settings, args, bot, metrics):
        if args.recreate:
            await bot.store.drop()
        options = bot.ingest_options(args.kb, args.url)

        async def sync() -> None:
            try:
                report = await bot.ingestor.sync(args.paths, options)
            except HelpbotError as exc:
                metrics.ingest_run(None)
                _fail(str(exc))
                return
            metrics.ingest_run(report)
            _print_report(report, args.json)

        await sync()
        if not args.json:
            print(f"watching {', '.join(args.paths)} (Ctrl-C to stop)", flush=True)
        # Editors save in bursts (temp file, rename, chmod): one sync per quiet period.
        async for _ in watchfiles.awatch(
            *args.paths, debounce=_WATCH_DEBOUNCE_MS, stop_event=stop, recursive=True
        ):
            await sync()


async def _ask(settings: Settings, args: argparse.Namespace) -> int:
    async with Helpbot(settings) as bot:
        query = Query(args.question, knowledge_bases=_scope(args))
        if args.json:
            answer = await bot.service.answer(query)
            print(json.dumps(answer_json(answer), ensure_ascii=False))
            return EXIT_OK
        await _print_stream(bot, query)
    return EXIT_OK


def _chat(settings: Settings, args: argparse.Namespace) -> int:
    """Interactive questions with follow-ups. The prompt is read on the main thread, outside
    the event loop, so Ctrl-C at the prompt ends the session at once."""
    history: list[Turn] = []
    print("Ask a question about your docs (empty line or Ctrl-D to quit).")
    with asyncio.Runner() as runner:
        bot = Helpbot(settings)
        runner.run(bot.start())
        try:
            while True:
                try:
                    question = input("\n> ").strip()
                except EOFError:
                    break
                if not question:
                    break
                query = Query(question, history=tuple(history), knowledge_bases=_scope(args))
                try:
                    answer = runner.run(_print_stream(bot, query))
                except HelpbotError as exc:
                    print(exc.user_message(detect_language(question)), file=sys.stderr)
                else:
                    history += [Turn("user", question), Turn("assistant", answer.text)]
        finally:
            runner.run(bot.stop())
    return EXIT_OK


async def _print_stream(bot: Helpbot, query: Query) -> Answer:
    """Print the answer as it streams, then its sources; return the complete answer."""
    async for event in bot.service.stream(query):
        if isinstance(event, Answer):
            print()
            _print_sources(event)
            return event
        print(event, end="", flush=True)
    raise AssertionError("stream ended without an Answer")


async def _eval(settings: Settings, args: argparse.Namespace) -> int:
    if args.k < 1:
        raise BadInputError("--k must be at least 1")
    if args.answers and not settings.llm_configured:
        raise BadInputError(
            "--answers needs a language model (set LLM_BASE_URL or LLM_API_KEY); without one, "
            '"I don\'t know" comes from the relevance threshold alone, which plain '
            "`helpbot eval` measures"
        )
    items = load_eval_items(args.file)
    knowledge_bases = _scope(args)
    limit = max(args.k, settings.top_k)
    async with Helpbot(settings) as bot:

        async def retrieve(query: Query) -> tuple[Sequence[Hit], bool]:
            scoped = replace(query, knowledge_bases=knowledge_bases)
            found = await bot.service.retrieve(scoped, limit)
            if not args.answers:
                return found.hits, not found.relevant
            answer = await bot.service.answer(scoped)
            return found.hits, not answer.answered

        with _Progress(enabled=not args.json) as progress:
            outcomes = await evaluate(items, retrieve, progress.update)
    figures = summarize(outcomes, args.k)
    if args.json:
        print(json.dumps(figures))
        return EXIT_OK
    print(f"{'lang':<6}{'n':>4}{'recall@1':>10}{f'recall@{args.k}':>10}{'mrr':>8}")
    for lang, row in figures["by_lang"].items():
        print(
            f"{lang:<6}{row['n']:>4}{row['recall@1']:>10.3f}"
            f"{row[f'recall@{args.k}']:>10.3f}{row['mrr']:>8.3f}"
        )
    unanswerable = figures["unanswerable"]
    decided_by = f"model {settings.llm_model} and retrieval" if args.answers else "retrieval"
    print(
        f"unanswerable: {unanswerable['abstained']}/{unanswerable['n']} answered "
        f'"I don\'t know"; answerable wrongly abstained: {figures["answerable_abstained"]} '
        f"(decided by the {decided_by})"
    )
    return EXIT_OK


async def _slack(settings: Settings, args: argparse.Namespace) -> int:
    """Run the Slack adapter until SIGINT or SIGTERM."""
    with _stop_on_signals() as stop:
        await _run_slack(settings, args, stop)
    return EXIT_OK


async def _run_slack(settings: Settings, args: argparse.Namespace, stop: asyncio.Event) -> None:
    metrics = Metrics()
    async with Helpbot(settings) as bot, _shared_state(settings) as state:
        slack = SlackBot(
            settings, bot.service, bot.feedback, metrics=metrics, state=state, routing=bot.routing
        )
        try:
            if args.http:
                port = await slack.start_http(args.host, args.port)
                print(f"Slack Events API on http://{args.host}:{port}/slack/events", flush=True)
            else:
                await slack.start_socket_mode()
                print("Slack bot connected over Socket Mode", flush=True)
            async with _health_server(settings, args, bot, metrics):
                await stop.wait()
        finally:
            await slack.stop()


def _shared_state(settings: Settings) -> SharedState:
    return SharedState(settings.redis_url.get_secret_value() if settings.redis_url else None)


@contextlib.asynccontextmanager
async def _health_server(
    settings: Settings, args: argparse.Namespace, bot: Helpbot, metrics: Metrics
) -> AsyncIterator[None]:
    """/healthz, /readyz and /metrics on --health-port (or HEALTH_PORT) while the block runs."""
    port = args.health_port if args.health_port is not None else settings.health_port
    if port is None or (getattr(args, "http", False) and port == args.port):
        yield  # none asked for, or the Slack HTTP port already serves the routes
        return
    server = HealthServer(bot.service.readiness, metrics)
    bound = await server.start(args.health_host, port)
    print(f"health and metrics on http://{args.health_host}:{bound}/metrics", flush=True)
    try:
        yield
    finally:
        await server.stop()


async def _discord(settings: Settings, args: argparse.Namespace) -> int:
    """Run the Discord adapter until SIGINT or SIGTERM."""
    if settings.discord_token is None:
        raise ConfigError("DISCORD_TOKEN is required to connect to Discord")
    with _stop_on_signals() as stop:
        await _run_discord(settings, args, settings.discord_token.get_secret_value(), stop)
    return EXIT_OK


async def _run_discord(
    settings: Settings, args: argparse.Namespace, token: str, stop: asyncio.Event
) -> None:
    metrics = Metrics()
    async with (
        Helpbot(settings) as bot,
        _shared_state(settings) as state,
        DiscordBot(
            settings,
            bot.service,
            bot.feedback,
            metrics=metrics,
            state=state,
            routing=bot.routing,
        ) as client,
        _health_server(settings, args, bot, metrics),
    ):
        runner = asyncio.create_task(client.start(token))
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if runner in done:
            _raise_discord_failure(runner)
        else:
            await client.close()
            await asyncio.gather(runner, return_exceptions=True)


def _raise_discord_failure(runner: asyncio.Task[None]) -> None:
    """A login or connection failure, as one line naming the setting to fix."""
    try:
        runner.result()
    except discord.LoginFailure as exc:
        raise ConfigError("DISCORD_TOKEN was rejected by Discord") from exc
    except discord.PrivilegedIntentsRequired as exc:
        raise ConfigError(
            "DISCORD_MESSAGE_CONTENT_INTENT is on but the application was not granted the "
            "Message Content intent (developer portal > Bot)"
        ) from exc


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM while the block runs, so long-running modes shut
    down cleanly; the handlers are removed afterwards."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        yield stop
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


async def _feedback(settings: Settings, args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise BadInputError("--limit must be at least 1")
    # Only the feedback store: this runs beside a bot that holds the Milvus Lite file.
    store = build_feedback(settings)
    await store.start()
    try:
        if args.purge:
            purged = await store.purge()
            print(f"deleted {purged} answers and their votes")
            return EXIT_OK
        records = await store.recent(args.limit, only_voted=args.voted)
    finally:
        await store.stop()
    for record in records:
        if args.json:
            print(json.dumps(asdict(record), ensure_ascii=False))
            continue
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.created_at))
        where = "/".join(part for part in (record.platform, record.channel, record.user) if part)
        print(f"{when}  +{record.up} -{record.down}  {where or '-'}  {record.question}")
        for source in record.sources:
            print(f"    {source}")
    if not records and not args.json:
        print("no answers recorded yet")
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
        "search": bot.store.layout,
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


def _scope(args: argparse.Namespace) -> tuple[str, ...]:
    """The knowledge base a command names, or none: the service's default."""
    return (args.kb,) if args.kb else ()


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
            label = {"read": "reading files", "embed": "embedding chunks", "eval": "questions"}.get(
                stage, stage
            )
            bar = self._bars[stage] = tqdm(total=total, desc=label, unit="", disable=None)
        bar.update(done - bar.n)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        for bar in self._bars.values():
            bar.close()
