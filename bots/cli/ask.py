"""`helpbot ask` and `helpbot chat`: answers streamed to the terminal, then their sources.

CLI answers are not chat answers: they are not saved to the answer log (nobody can vote on
them) and failures keep their exit codes, so this loop is separate from `bots.answering`.
Answers and sources come from documents: they are printed without control characters or
escape sequences (`bots.cli.output`), and the JSON output escapes them."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import asdict, dataclass
from typing import Any

from bots.cli.output import PlainTextStream, json_text, plain_text
from core import Answer, Helpbot, HelpbotError, Query, Settings, Turn, detect_language

__all__ = ["AskCommand", "ChatCommand", "answer_json", "run_ask", "run_chat"]

# A source's number is its place in the list; its chunk id and content hash are the
# answer log's (stale answers), not part of the stable JSON shape.
_NOT_SHOWN = {"number", "chunk_id", "content_hash"}


@dataclass(frozen=True)
class AskCommand:
    """One question; `kb` None searches KNOWLEDGE_BASE."""

    question: str
    kb: str | None = None
    json: bool = False


@dataclass(frozen=True)
class ChatCommand:
    """An interactive session; `kb` None searches KNOWLEDGE_BASE."""

    kb: str | None = None


async def run_ask(settings: Settings, command: AskCommand) -> int:
    """Answer one question, streamed (or as JSON with `json`)."""
    async with Helpbot(settings) as bot:
        query = Query(command.question, knowledge_bases=scope_of(command.kb))
        if command.json:
            answer = await bot.service.answer(query)
            print(json_text(answer_json(answer)))
            return 0
        await _print_stream(bot, query)
    return 0


def run_chat(settings: Settings, command: ChatCommand) -> int:
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
                query = Query(
                    question, history=tuple(history), knowledge_bases=scope_of(command.kb)
                )
                try:
                    answer = runner.run(_print_stream(bot, query))
                except HelpbotError as exc:
                    print(exc.user_message(detect_language(question)), file=sys.stderr)
                else:
                    history += [Turn("user", question), Turn("assistant", answer.text)]
        finally:
            runner.run(bot.stop())
    return 0


def scope_of(kb: str | None) -> tuple[str, ...]:
    """The knowledge base a command names, or none: the service's default."""
    return (kb,) if kb else ()


def answer_json(answer: Answer) -> dict[str, Any]:
    """The stable JSON shape of `helpbot ask --json`."""
    return {
        "answer": answer.text,
        "answered": answer.answered,
        "outcome": answer.outcome,
        "mode": answer.mode,
        "sources": [
            {k: v for k, v in asdict(source).items() if k not in _NOT_SHOWN}
            for source in answer.sources
        ],
        "timings": asdict(answer.timings),
    }


async def _print_stream(bot: Helpbot, query: Query) -> Answer:
    """Print the answer as it streams, then its sources; return the complete answer."""
    text = PlainTextStream()
    async for event in bot.service.stream(query):
        if isinstance(event, Answer):
            print(text.end())
            _print_sources(event)
            return event
        print(text.feed(event), end="", flush=True)
    raise AssertionError("stream ended without an Answer")


def _print_sources(answer: Answer) -> None:
    if answer.sources:
        print("\nSources:")
    for source in answer.sources:
        link = f" <{source.url}>" if source.url else ""
        line = f"  [{source.number}] {source.title} > {source.heading} ({source.source}){link}"
        print(plain_text(line))
    t = answer.timings
    print(
        f"\n({answer.mode}; embed {t.embed_ms:.0f} ms, search {t.search_ms:.0f} ms, "
        f"generate {t.generate_ms:.0f} ms, total {t.total_ms:.0f} ms)",
        file=sys.stderr,
    )
