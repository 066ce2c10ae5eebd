"""The answering loop both chat adapters share: stream the core's answer into a platform
reply, record it for votes, and turn any failure into a short message in the asker's
language."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any, Protocol

from bots.ops.logs import request_scope
from bots.ops.metrics import Metrics, QuestionOutcome
from core import Answer, AnswerLog, HelpbotError, Query, RagService, detect_language, message

log = logging.getLogger(__name__)


class ReplySink(Protocol):
    """Where an answer is shown on a platform, as it arrives."""

    async def add(self, delta: str) -> None: ...

    async def finish(self, answer: Answer, answer_id: str) -> None: ...

    async def fail(self, text: str) -> None: ...

    def thread(self) -> str | None:
        """Where a later reply about the answer goes (a Slack thread's ts, a Discord message
        id), once it is posted for everyone to see; None otherwise."""
        ...


async def answer_into(
    service: RagService, answer_log: AnswerLog, query: Query, sink: ReplySink, metrics: Metrics
) -> None:
    """Stream the answer to `query` into `sink`; never raises, so a listener never dies
    silently: a core error becomes its friendly message, anything else a generic one. Every
    line logged meanwhile carries one request id; no question or answer text is logged."""
    platform = query.origin.platform
    assert platform is not None, "chat adapters always say which platform a question came from"
    language = detect_language(query.text)
    started = time.perf_counter()
    first_shown: float | None = None
    with request_scope():
        log.info(
            "question on %s (%d chars, %d earlier turns)",
            platform,
            len(query.text),
            len(query.history),
        )
        try:
            answer: Answer | None = None
            async for event in service.stream(query):
                if isinstance(event, Answer):
                    answer = event
                    continue
                await sink.add(event)
                if first_shown is None:
                    first_shown = time.perf_counter() - started
            if answer is None:
                raise RuntimeError("the answer stream ended without an Answer")
            latency_ms = (time.perf_counter() - started) * 1000
            answer_id = await answer_log.save_answer(query, answer, latency_ms)
            await sink.finish(answer, answer_id)
            if query.origin.thread is None and (posted := sink.thread()):
                await _place(answer_log, answer_id, posted)
        except HelpbotError as exc:
            metrics.question(platform, "error")
            log.warning("could not answer (%s): %s", platform, exc)
            await _log_failure(answer_log, query, language, started)
            await _fail(sink, exc.user_message(language))
        except Exception:
            metrics.question(platform, "error")
            log.exception("unexpected failure answering (%s)", platform)
            await _log_failure(answer_log, query, language, started)
            await _fail(sink, message("internal_error", language))
        else:
            total = time.perf_counter() - started
            outcome: QuestionOutcome = answer.outcome
            metrics.question(platform, outcome, answer, first_shown, total)
            log.info(
                "%s in %.0f ms (embed %.0f, search %.0f, generate %.0f), %d sources, answer %s",
                outcome,
                total * 1000,
                answer.timings.embed_ms,
                answer.timings.search_ms,
                answer.timings.generate_ms,
                len(answer.sources),
                answer_id,
            )


async def _place(answer_log: AnswerLog, answer_id: str, thread: str) -> None:
    """Record where a `/ask` answer was posted, for a stale notice; the answer is shown
    already, so a failure here costs the notice only, never an error under the answer."""
    try:
        await answer_log.place_answer(answer_id, thread)
    except Exception:
        log.warning("could not record where answer %s was posted", answer_id, exc_info=True)


class InFlight:
    """The answers being written now, so an adapter's stop() cancels them before its
    connections (and the core's) close under them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.accepting = True  # False once draining: new questions are not started

    async def run(self, work: Coroutine[Any, Any, None]) -> None:
        """Await `work` as part of the current task, which stop() may cancel; while draining,
        `work` is not started at all."""
        if not self.accepting:  # adapters check first and say so; this is the last guard
            work.close()
            log.info("a question arrived while shutting down: not answered")
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await work
        finally:
            if task is not None:
                self._tasks.discard(task)

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, seconds: float) -> None:
        """Start no new answers, let those in progress finish for up to `seconds`, then
        cancel what is left."""
        self.accepting = False
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        if tasks and seconds > 0:
            await asyncio.wait(tasks, timeout=seconds)
        await self.cancel_all()

    async def cancel_all(self) -> None:
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def log_not_enabled(answer_log: AnswerLog, query: Query) -> None:
    """A question where helpbot is not enabled is logged too (the digest counts them)."""
    try:
        await answer_log.save_failure(query, "not_enabled", detect_language(query.text))
    except Exception:
        log.exception("could not log the question asked where helpbot is not enabled")


async def _log_failure(answer_log: AnswerLog, query: Query, language: str, started: float) -> None:
    """An error is logged like an answer (the digest counts them), never raising."""
    try:
        await answer_log.save_failure(
            query, "error", language, (time.perf_counter() - started) * 1000
        )
    except Exception:
        log.exception("could not log the failed question")


async def _fail(sink: ReplySink, text: str) -> None:
    try:
        await sink.fail(text)
    except Exception:
        log.exception("could not even send the error message")
