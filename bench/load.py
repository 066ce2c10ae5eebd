"""Load benchmark: N concurrent questions through the Slack HTTP endpoint, signed like Slack's.

Two processes, so the load never shares an event loop with the bot it measures:
- this one runs the bot as `helpbot slack --http` does (`Helpbot` + `SlackBot.start_http`),
  generative answers from an OpenAI-compatible endpoint, the FAQ corpus in Milvus (a Milvus
  Lite file, or `--milvus server`: `milvus-lite server` in a process of its own), and a 10 ms
  ticker that records how late the event loop wakes it (loop lag);
- a driver child runs the Slack Web API stand-in, the OpenAI-compatible stand-in (a fixed time
  to first token, `--ttft`) and the load client, and times everything on the shared monotonic
  clock.

Per N (1, 8, 32, 128): ack latency (the HTTP response to the signed event), end to end (event
posted to `chat.stopStream`), helpbot's overhead on the first visible token (event posted to
the first answer text reaching Slack, less the stand-in's fixed TTFT), loop lag p99, peak RSS,
and the bot process's CPU time per question. The baseline, in the same run: the same N
questions one after another (each posted when the previous answer is complete); `speed-up` is
its wall time over the concurrent wall time.

`--milvus serve` shares the Lite file as `helpbot serve` does (its engine in a child process,
whose CPU time is reported beside the bot's).

Run: .venv/bin/python bench/load.py [--sizes 1,8,32,128] [--ttft 0.5] [--milvus lite|serve|server]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from itertools import cycle, islice
from pathlib import Path
from typing import Any

import aiohttp

from corpus_paths import PROJECT_ROOT, dev_set, milvus_docs

sys.path.insert(0, str(PROJECT_ROOT))  # the stand-ins are the test package's

from bots.cli.running import settle_heap
from bots.slack.app import SlackBot
from bots.slack.settings import SlackSettings
from core.container import Helpbot
from core.search.milvus.lite_engine import engine_record
from core.settings import Settings
from tests.milvus_servers.servers import MilvusServer
from tests.standins import slack_payloads as payloads
from tests.standins.openai_server import OpenAIStandIn
from tests.standins.slack_server import SlackStandIn

SECRET = "bench-signing-secret"
REPLY = (
    "Milvus keeps inserted data in object storage such as MinIO or S3, and its metadata in "
    "etcd; the write-ahead log goes to Pulsar or Kafka [1]. Indexes are built from sealed "
    "segments and stored beside them [2]."
)
TEXT_METHODS = ("chat.startStream", "chat.appendStream", "chat.postMessage", "chat.update")
DONE_METHODS = ("chat.stopStream", "chat.postMessage")


def answerable_questions() -> list[str]:
    path = dev_set()
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [item["question"] for item in items if item.get("source")]


# --- the driver: stand-ins and load client, in a child process ------------------------------


def _has_text(params: dict[str, Any]) -> bool:
    chunks = params.get("chunks") or []
    if isinstance(chunks, str):
        chunks = json.loads(chunks)
    return bool(params.get("markdown_text") or params.get("text") or any(chunks))


async def _post_event(session: aiohttp.ClientSession, url: str, body: bytes) -> float:
    headers = {"Content-Type": "application/json", **payloads.signed_headers(body, SECRET)}
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"event answered HTTP {response.status}")
    return time.monotonic()


async def _round(slack: SlackStandIn, command: dict[str, Any], tag: int) -> dict[str, Any]:
    """Post the questions (all at once, or one after another) and time each one."""
    questions: list[str] = command["questions"]
    channels = [f"C{tag:03d}{i:04d}" for i in range(len(questions))]
    posted: dict[str, float] = {}
    acks: list[float] = []
    done_before = sum(1 for c in slack.calls if c.method in DONE_METHODS)

    async def ask(session: aiohttp.ClientSession, i: int) -> None:
        ts = f"{1_700_000_000 + tag * 10_000 + i}.000100"
        event = payloads.app_mention(
            f"<@U0BOT> {questions[i]}", channel=channels[i], user="U0LOAD", ts=ts
        )
        body = json.dumps(event).encode()
        posted[channels[i]] = start = time.monotonic()
        acks.append(await _post_event(session, command["url"], body) - start)

    started = time.monotonic()
    # No connection limit: aiohttp's default of 100 would queue the client, not the bot.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        if command["mode"] == "concurrent":
            await asyncio.gather(*(ask(session, i) for i in range(len(questions))))
            await _until_done(slack, done_before + len(questions))
        else:
            for i in range(len(questions)):
                await ask(session, i)
                await _until_done(slack, done_before + i + 1)
    wall = time.monotonic() - started

    first_text: dict[str, float] = {}
    finished: dict[str, float] = {}
    for call in slack.calls:
        channel = call.params.get("channel")
        if channel not in posted:
            continue
        if call.method in TEXT_METHODS and _has_text(call.params):
            first_text.setdefault(channel, call.at)
        if call.method in DONE_METHODS:
            finished.setdefault(channel, call.at)
    return {
        "wall_s": wall,
        "ack_s": acks,
        "first_text_s": [first_text[c] - posted[c] for c in channels if c in first_text],
        "end_to_end_s": [finished[c] - posted[c] for c in channels if c in finished],
    }


async def _until_done(slack: SlackStandIn, count: int) -> None:
    async with asyncio.timeout(600):
        while sum(1 for c in slack.calls if c.method in DONE_METHODS) < count:
            await asyncio.sleep(0.005)


async def driver(ttft: float) -> None:
    """Serve the stand-ins; run one round per JSON command on stdin, answer on stdout."""
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    async with SlackStandIn() as slack, OpenAIStandIn() as llm:
        llm.time_to_first_token_s = ttft
        llm.default_reply = REPLY
        print(json.dumps({"slack": slack.api_url, "llm": llm.base_url}), flush=True)
        tag = 0
        while line := await stdin.readline():
            tag += 1
            print(json.dumps(await _round(slack, json.loads(line), tag)), flush=True)


# --- the bot under load, in this process ------------------------------------------------------


class LoopLag:
    """A 10 ms ticker: how late the event loop wakes it, in seconds."""

    interval_s = 0.01

    def __init__(self) -> None:
        self.samples: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.interval_s)
            self.samples.append(loop.time() - before - self.interval_s)


@contextlib.asynccontextmanager
async def milvus_uri(kind: str, workdir: Path) -> AsyncIterator[str]:
    """A Milvus Lite file (opened in this process, or shared as `helpbot serve` shares it:
    its engine in a child process), or `milvus-lite server` started by the bench."""
    if kind in ("lite", "serve"):
        yield str(workdir / "milvus.db")
        return
    server = MilvusServer("milvus-lite", workdir / "milvus-server")
    await asyncio.to_thread(server.start)
    try:
        yield server.uri
    finally:
        await asyncio.to_thread(server.stop)


def bot_cpu_s() -> float:
    """CPU seconds this process (the bot) has used, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def engine_cpu_s(uri: str) -> float:
    """CPU seconds of the engine `serve` runs for a Lite file (0 without one)."""
    record = engine_record(uri)
    if not record.exists():
        return 0.0
    pid = json.loads(record.read_text())["pid"]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--driver",
        "--ttft",
        str(args.ttft),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    urls = json.loads(await child.stdout.readline())

    async def run_round(url: str, questions: list[str], mode: str) -> dict[str, Any]:
        command = {"url": url, "questions": questions, "mode": mode}
        child.stdin.write(json.dumps(command).encode() + b"\n")  # type: ignore[union-attr]
        await child.stdin.drain()  # type: ignore[union-attr]
        return json.loads(await child.stdout.readline())  # type: ignore[union-attr]

    workdir = Path(tempfile.mkdtemp(prefix="helpbot-load-"))
    rows: list[dict[str, Any]] = []
    try:
        async with milvus_uri(args.milvus, workdir) as uri:
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                milvus_uri=uri,
                embedding_cache_path=workdir / "cache.sqlite",
                feedback_path=workdir / "feedback.sqlite",
                llm_base_url=urls["llm"],
                llm_api_key="bench-key",
            )
            slack_settings = SlackSettings(  # type: ignore[call-arg]
                _env_file=None,
                slack_bot_token="xoxb-bench",
                slack_signing_secret=SECRET,
                slack_api_url=urls["slack"],
                # One user asks every question: the bench measures answering, not the
                # fair limits.
                slack_cooldown_s=0,
                slack_channel_questions_per_minute=0,
            )
            async with Helpbot(settings, share_store=args.milvus == "serve") as bot:
                await bot.ingestor.sync([milvus_docs() / "faq"], bot.ingest_options())
                slack = SlackBot(slack_settings, bot.service, bot.answer_log)
                port = await slack.start_http("127.0.0.1", 0)
                url = f"http://127.0.0.1:{port}/slack/events"
                lag = LoopLag()
                ticker = asyncio.create_task(lag.run())
                questions = answerable_questions()
                await run_round(url, questions[:2], "sequential")  # warm-up
                settle_heap()  # as every long-running helpbot command does once started
                try:
                    for n in args.sizes:
                        asked = list(islice(cycle(questions), n))
                        lag.samples.clear()
                        cpu_before, engine_before = bot_cpu_s(), engine_cpu_s(uri)
                        concurrent = await run_round(url, asked, "concurrent")
                        concurrent["bot_cpu_s"] = bot_cpu_s() - cpu_before
                        concurrent["engine_cpu_s"] = engine_cpu_s(uri) - engine_before
                        lag_p99 = _pct(lag.samples, 99)
                        sequential = await run_round(url, asked, "sequential")
                        rows.append(
                            _row(n, args, concurrent, sequential, lag_p99)
                            | {"answered": len(concurrent["end_to_end_s"])}
                        )
                        print(_table_line(rows[-1]), flush=True)
                finally:
                    ticker.cancel()
                    await slack.stop()
    finally:
        child.stdin.close()
        await child.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def _row(
    n: int,
    args: argparse.Namespace,
    concurrent: dict[str, Any],
    sequential: dict[str, Any],
    lag_p99: float,
) -> dict[str, Any]:
    overhead = [t - args.ttft for t in concurrent["first_text_s"]]
    return {
        "n": n,
        "milvus": args.milvus,
        "ack_p50_ms": _pct(concurrent["ack_s"], 50) * 1000,
        "ack_p99_ms": _pct(concurrent["ack_s"], 99) * 1000,
        "e2e_p50_ms": _pct(concurrent["end_to_end_s"], 50) * 1000,
        "e2e_p99_ms": _pct(concurrent["end_to_end_s"], 99) * 1000,
        "overhead_p50_ms": _pct(overhead, 50) * 1000,
        "overhead_p99_ms": _pct(overhead, 99) * 1000,
        "loop_lag_p99_ms": lag_p99 * 1000,
        "bot_cpu_ms_per_question": concurrent["bot_cpu_s"] / n * 1000,
        "engine_cpu_ms_per_question": concurrent["engine_cpu_s"] / n * 1000,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "concurrent_wall_s": concurrent["wall_s"],
        "sequential_wall_s": sequential["wall_s"],
        "sequential_e2e_p50_ms": _pct(sequential["end_to_end_s"], 50) * 1000,
        "speed_up": sequential["wall_s"] / concurrent["wall_s"],
    }


HEADER = (
    "| N | ack p50/p99 ms | end to end p50/p99 ms | overhead on first token p50/p99 ms "
    "| loop lag p99 ms | bot (+ engine) CPU ms/question | peak RSS MiB "
    "| wall s (sequential baseline) | speed-up |\n|---|---|---|---|---|---|---|---|---|"
)


def _table_line(row: dict[str, Any]) -> str:
    return (
        f"| {row['n']} | {row['ack_p50_ms']:.0f} / {row['ack_p99_ms']:.0f} "
        f"| {row['e2e_p50_ms']:.0f} / {row['e2e_p99_ms']:.0f} "
        f"| {row['overhead_p50_ms']:.0f} / {row['overhead_p99_ms']:.0f} "
        f"| {row['loop_lag_p99_ms']:.1f} | {row['bot_cpu_ms_per_question']:.0f} "
        f"(+ {row['engine_cpu_ms_per_question']:.0f}) "
        f"| {row['peak_rss_mib']:.0f} "
        f"| {row['concurrent_wall_s']:.1f} ({row['sequential_wall_s']:.1f}) "
        f"| {row['speed_up']:.1f}x |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,8,32,128", help="concurrent questions per round")
    parser.add_argument("--ttft", type=float, default=0.5, help="stand-in time to first token")
    parser.add_argument(
        "--milvus",
        choices=("lite", "serve", "server"),
        default="lite",
        help="the Lite file in this process, shared as serve shares it, or milvus-lite server",
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON at the end")
    parser.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver:
        asyncio.run(driver(args.ttft))
        return
    args.sizes = [int(n) for n in args.sizes.split(",")]
    print(f"Milvus: {args.milvus}; stand-in TTFT {args.ttft * 1000:.0f} ms\n\n{HEADER}", flush=True)
    rows = asyncio.run(bench(args))
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
