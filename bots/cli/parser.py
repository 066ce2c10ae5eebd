"""The `helpbot` command line: each subcommand's arguments become its typed command value,
and a handler runs it with the settings it needs."""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from bots.cli.ask import AskCommand, ChatCommand, run_ask, run_chat
from bots.cli.evaluate import EvalCommand, run_eval
from bots.cli.ingest import IngestCommand, run_ingest
from bots.cli.inspect import FeedbackCommand, StatsCommand, run_feedback, run_stats
from bots.cli.learning import (
    DigestCommand,
    GapsCommand,
    GapStatusCommand,
    run_digest,
    run_gap_status,
    run_gaps,
)
from bots.cli.platforms import DiscordCommand, SlackCommand, run_discord, run_slack
from bots.cli.running import HealthOptions
from bots.cli.serve import ServeCommand, run_serve
from bots.cli.sources import ForgetCommand, SyncCommand, run_forget, run_sync
from bots.discord.settings import DiscordSettings
from bots.slack.settings import SlackSettings
from core import (
    GAP_STATUSES,
    KNOWLEDGE_BASE_NAME,
    ConfigError,
    Settings,
    parse_duration,
    read_settings,
)

__all__ = ["Handler", "build_parser"]

Handler = Callable[[Settings, argparse.Namespace], int | Awaitable[int]]
"""Runs a parsed subcommand; `main` gives it the core's settings."""

_KNOWLEDGE_BASE = re.compile(KNOWLEDGE_BASE_NAME)


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand, each with `handler` set to run it."""
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
    ingest.add_argument(
        "--replace",
        action="store_true",
        help="let a path or URL take over a folder name ingested from elsewhere (its chunks go)",
    )
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")
    ingest.add_argument(
        "--watch",
        action="store_true",
        help="after the first sync, keep watching the files and folders and sync every change",
    )
    _add_health_options(ingest)
    ingest.set_defaults(handler=_ingest)

    serve = commands.add_parser(
        "serve",
        help="run every configured bot (Slack, Discord) and keep the sources file in sync",
    )
    serve.add_argument(
        "--drain",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="after SIGTERM, how long answers in flight may take to finish (default 20)",
    )
    serve.add_argument(
        "--slack-http",
        action="store_true",
        help="Slack over the HTTP Events API (SLACK_SIGNING_SECRET) instead of Socket Mode",
    )
    serve.add_argument("--host", default="0.0.0.0", help="with --slack-http: address to bind")
    serve.add_argument("--port", type=int, default=3000, help="with --slack-http: port")
    _add_health_options(serve)
    serve.set_defaults(handler=_serve, log_level=logging.INFO)

    sync = commands.add_parser(
        "sync", help="sync every source in the sources file once (for cron), remove dropped ones"
    )
    sync.add_argument("--file", type=Path, help="the sources file (default: SOURCES_FILE)")
    sync.add_argument("--json", action="store_true", help="print the report as JSON")
    sync.set_defaults(handler=lambda settings, a: run_sync(settings, SyncCommand(a.file, a.json)))

    forget = commands.add_parser(
        "forget", help="delete sources (or with --kb alone, a whole knowledge base) from the index"
    )
    forget.add_argument(
        "names", nargs="*", metavar="SOURCE", help="a path or URL as ingested, or a source name"
    )
    _add_kb_option(forget, "knowledge base to delete from (alone: delete all of it)")
    forget.add_argument("--json", action="store_true", help="print the counts as JSON")
    forget.set_defaults(
        handler=lambda settings, a: run_forget(
            settings, ForgetCommand(tuple(a.names), a.kb, a.json)
        )
    )

    ask = commands.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    _add_kb_option(ask, "knowledge base to search")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.set_defaults(
        handler=lambda settings, a: run_ask(settings, AskCommand(a.question, a.kb, a.json))
    )

    chat = commands.add_parser("chat", help="ask questions interactively, with follow-ups")
    _add_kb_option(chat, "knowledge base to search")
    chat.set_defaults(handler=lambda settings, a: run_chat(settings, ChatCommand(a.kb)))

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
    evaluate.set_defaults(
        handler=lambda settings, a: run_eval(
            settings, EvalCommand(a.file, a.k, a.kb, a.json, a.answers)
        )
    )

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
    feedback.add_argument(
        "--export-eval",
        type=Path,
        metavar="FILE",
        help="write 👍 answers as eval cases and 👎 / don't-know questions as cases to label",
    )
    feedback.set_defaults(
        handler=lambda settings, a: run_feedback(
            settings, FeedbackCommand(a.limit, a.voted, a.json, a.purge, a.export_eval)
        )
    )

    gaps = commands.add_parser("gaps", help="what the bot could not answer, grouped by topic")
    gaps.add_argument(
        "--since", type=_duration, default=7 * 86400.0, help='how far back (default "7d")'
    )
    gaps.add_argument(
        "--kb",
        type=_knowledge_base,
        help="only questions asked in this knowledge base (default: all)",
    )
    gaps.add_argument("--json", action="store_true", help="print the gaps as JSON lines")
    gaps.add_argument(
        "--all",
        action="store_true",
        help="also the resolved gaps not asked again since, and the dismissed ones",
    )
    gap_commands = gaps.add_subparsers(dest="gaps_command", metavar="set")
    gap_set = gap_commands.add_parser("set", help="record what the team decided about a gap")
    gap_set.add_argument("gap_id", metavar="ID", help="the gap, as `helpbot gaps` shows it")
    gap_set.add_argument(
        "status", choices=GAP_STATUSES, metavar="STATUS", help=", ".join(GAP_STATUSES)
    )
    gap_set.add_argument("--note", default="", help="e.g. a link to the docs change")
    gap_set.set_defaults(
        handler=lambda settings, a: run_gap_status(
            settings, GapStatusCommand(a.gap_id, a.status, a.note, a.since, a.kb)
        )
    )
    gaps.set_defaults(
        handler=lambda settings, a: run_gaps(settings, GapsCommand(a.since, a.kb, a.json, a.all))
    )

    digest = commands.add_parser("digest", help="the digest of recent questions, now")
    digest.add_argument(
        "--since", type=_duration, help='how far back (default: DIGEST_EVERY, "7d")'
    )
    digest.add_argument("--post", action="store_true", help="also post it to the digest channels")
    digest.set_defaults(handler=_digest)

    stats = commands.add_parser("stats", help="show the collection, its size and its model")
    stats.add_argument("--json", action="store_true", help="print the stats as JSON")
    stats.set_defaults(handler=lambda settings, a: run_stats(settings, StatsCommand(a.json)))
    return parser


def _ingest(settings: Settings, args: argparse.Namespace) -> Awaitable[int]:
    command = IngestCommand(
        tuple(args.paths),
        args.kb,
        args.url,
        args.recreate,
        args.json,
        args.watch,
        _health(args),
        args.replace,
    )
    return run_ingest(settings, command)


def _serve(settings: Settings, args: argparse.Namespace) -> Awaitable[int]:
    command = ServeCommand(_health(args), args.drain, args.slack_http, args.host, args.port)
    return run_serve(
        settings, read_settings(SlackSettings), read_settings(DiscordSettings), command
    )


def _digest(settings: Settings, args: argparse.Namespace) -> Awaitable[int]:
    return run_digest(
        settings,
        read_settings(SlackSettings),
        read_settings(DiscordSettings),
        DigestCommand(args.since, args.post),
    )


def _slack(settings: Settings, args: argparse.Namespace) -> Awaitable[int]:
    command = SlackCommand(args.http, args.host, args.port, _health(args))
    return run_slack(settings, read_settings(SlackSettings), command)


def _discord(settings: Settings, args: argparse.Namespace) -> Awaitable[int]:
    command = DiscordCommand(_health(args))
    return run_discord(settings, read_settings(DiscordSettings), command)


def _health(args: argparse.Namespace) -> HealthOptions:
    return HealthOptions(args.health_port, args.health_host)


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
        "--health-host",
        help="address the health port listens on (default: HEALTH_HOST, else 127.0.0.1)",
    )


def _duration(value: str) -> float:
    """A `--since` value: "7d", "12h", "30m"."""
    try:
        return parse_duration(value, "--since")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
