"""The answer log's interface: answers as they were given, the 👍 / 👎 votes people cast on
them, and how long they are kept.

An adapter saves each answer it posts and puts the returned id on its vote buttons; a vote
then needs only that id, so no platform has to carry the question and answer in a button.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from core.models import Answer, Query

__all__ = ["AnswerLog", "AnswerRecord", "Retention", "Vote"]

Vote = Literal["up", "down"]


@dataclass(frozen=True)
class AnswerRecord:
    """A posted answer with its question, where it was asked, and the votes it got."""

    id: str
    created_at: float
    platform: str | None
    workspace: str | None
    channel: str | None
    user: str | None
    question: str
    answer: str
    answered: bool
    sources: tuple[str, ...]
    up: int
    down: int


class AnswerLog(Protocol):
    """Where posted answers and their votes are kept: SQLite in this process
    (`SqliteAnswerLog`), or Redis shared by every bot process (`RedisAnswerLog`, REDIS_URL)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def save_answer(self, query: Query, answer: Answer) -> str: ...

    async def vote(self, answer_id: str, voter: str, vote: Vote) -> bool: ...

    async def recent(self, limit: int = 20, only_voted: bool = False) -> list[AnswerRecord]: ...

    async def purge(self, older_than_days: float | None = None) -> int: ...


class Retention:
    """How long answers (question text, user ids) are kept: `due()` says when to purge
    again, at most hourly, so a long-running bot forgets old answers without a cron job."""

    interval_s = 3600.0

    def __init__(self, days: float | None, clock: Callable[[], float] = time.time) -> None:
        self.days = days
        self.clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        now = self.clock()
        if self.days is None or (self._last is not None and now - self._last < self.interval_s):
            return False
        self._last = now
        return True

    async def purge_if_due(self, purge: Callable[[float | None], Awaitable[int]]) -> None:
        """Run a store's purge with the retention days when one is due."""
        if self.due():
            await purge(self.days)

    def cutoff(self, days: float | None) -> float:
        """The creation time before which answers go; +inf (everything) without `days`."""
        return math.inf if days is None else self.clock() - days * 86400


def source_keys(answer: Answer) -> list[str]:
    """How an answer's sources are stored: 'path > heading' each."""
    return [f"{s.source} > {s.heading}" for s in answer.sources]
