"""The answer log's interface: every reply the chat adapters gave (answers, "unsure", "I don't
know", errors, "not enabled here"), the 👍 / 👎 votes people cast on them, which answers went
stale, the gaps' statuses and when the last digest went out, and how long answers are kept.

An adapter saves each reply it posts and puts the returned id on its vote buttons; a vote
then needs only that id, so no platform has to carry the question and answer in a button.
Both stores keep a reply's details as one JSON document (`details`), read back by
`record_from`, so a new detail needs no migration.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from core.models import Answer, Query

__all__ = [
    "DOWN_REASONS",
    "GAP_STATUSES",
    "AnswerLog",
    "AnswerRecord",
    "Citation",
    "GapStatus",
    "LoggedOutcome",
    "Retention",
    "Vote",
]

Vote = Literal["up", "down"]
LoggedOutcome = Literal["answered", "unsure", "dont_know", "error", "not_enabled"]
DOWN_REASONS = ("wrong", "outdated", "not_asked", "other")
"""Why a 👎: a wrong answer, an outdated one, not what was asked, or something else."""
GAP_STATUSES = ("new", "in_progress", "resolved", "dismissed", "docs_changed")


@dataclass(frozen=True)
class Citation:
    """A section an answer cited, as it was when cited."""

    chunk_id: str
    source: str
    heading: str
    content_hash: str
    url: str | None = None


@dataclass(frozen=True)
class AnswerRecord:
    """A reply with its question, where it was asked, how it went, and the votes it got."""

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
    outcome: LoggedOutcome = "answered"
    language: str = "en"
    scope: tuple[str, ...] = ()
    """The knowledge bases searched (empty: the default one)."""
    thread: str | None = None
    best_similarity: float | None = None
    margin: float | None = None
    citations: tuple[Citation, ...] = ()
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    down_reasons: tuple[str, ...] = ()
    stale: bool = False
    stale_at: float | None = None
    """When a sync made it stale (None if it is not, or was marked before this was kept)."""
    stale_cited: int | None = None
    """Which of its citations the sync changed (None: unknown, or not stale)."""


@dataclass(frozen=True)
class GapStatus:
    """What the team decided about a gap (`helpbot gaps set`), with an optional note."""

    status: str
    note: str = ""
    updated_at: float = 0.0
    members: tuple[str, ...] = field(default=())
    """The answer ids the gap had when its status was set: a regrouped gap that shares any
    of them keeps the status."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> GapStatus:
        found = json.loads(text)
        return cls(**{**found, "members": tuple(found.get("members", ()))})


class AnswerLog(Protocol):
    """Where replies and their votes are kept: SQLite in this process (`SqliteAnswerLog`),
    or Redis shared by every bot process (`RedisAnswerLog`, REDIS_URL)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def save_answer(
        self, query: Query, answer: Answer, latency_ms: float | None = None
    ) -> str:
        """Log an answer (answered, unsure or don't know); the id its vote buttons carry."""
        ...

    async def save_failure(
        self, query: Query, outcome: LoggedOutcome, language: str, latency_ms: float | None = None
    ) -> str:
        """Log a question that got an error or "not enabled here" instead of an answer."""
        ...

    async def place_answer(self, answer_id: str, thread: str) -> None:
        """Record where an answer was posted when its question gave it no thread (a `/ask`
        answer: a Slack ts, a Discord message id), so a stale notice can reply there."""
        ...

    async def vote(self, answer_id: str, voter: str, vote: Vote, reason: str | None = None) -> bool:
        """Record a vote (a second one by the same person replaces the first, so a reason
        picked after the 👎 completes it); False when the answer is unknown."""
        ...

    async def recent(self, limit: int = 20, only_voted: bool = False) -> list[AnswerRecord]: ...

    async def between(self, start: float, end: float = math.inf) -> list[AnswerRecord]:
        """Every reply logged in [start, end), oldest first."""
        ...

    async def mark_stale(self, removed: Iterable[str], kept: set[tuple[str, str]]) -> int:
        """After a sync: answers citing a removed chunk id are stale, unless the same text is
        still in the same source (`kept`: (source, content hash) pairs; a chunk only moved).
        Returns how many answers became stale."""
        ...

    async def claim_stale_notices(
        self, platforms: Collection[str], limit: int = 20
    ) -> list[AnswerRecord]:
        """Stale answers given on these platforms whose notice is not sent yet, each handed
        out once across every process sharing the log."""
        ...

    async def gone_stale(self, start: float, end: float = math.inf) -> list[AnswerRecord]:
        """The answers a sync made stale in [start, end), whenever they were given, in the
        order they went stale (the digest lists them)."""
        ...

    async def gap_statuses(self) -> dict[str, GapStatus]: ...

    async def set_gap_status(self, gap_id: str, status: GapStatus) -> None: ...

    async def claim_digest(self, now: float, every_s: float, platform: str) -> float | None:
        """If no digest went out on `platform` in the last `every_s` seconds, claim this one
        (once across processes) and return when the last one went out (0 for never); else
        None. Each platform has its own schedule: `helpbot slack` and `helpbot discord`
        running apart each post theirs."""
        ...

    async def release_digest(self, claimed: float, last: float, platform: str) -> None:
        """Give back the digest claimed at `claimed` on `platform` (it could not be posted):
        the last one is `last` again, unless another process has claimed one since."""
        ...

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


def answer_details(query: Query, answer: Answer, latency_ms: float | None) -> str:
    """The JSON document both stores keep for an answer."""
    usage = answer.usage
    return _details(
        query,
        outcome=answer.outcome,
        language=answer.language,
        best_similarity=answer.best_similarity,
        margin=answer.margin,
        citations=[
            asdict(Citation(s.chunk_id, s.source, s.heading, s.content_hash, s.url))
            for s in answer.sources
        ],
        latency_ms=latency_ms,
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
    )


def failure_details(
    query: Query, outcome: LoggedOutcome, language: str, latency_ms: float | None
) -> str:
    return _details(query, outcome=outcome, language=language, latency_ms=latency_ms)


def _details(query: Query, **values: Any) -> str:
    values |= {"scope": list(query.knowledge_bases), "thread": query.origin.thread}
    return json.dumps(values, ensure_ascii=False)


def record_from(
    base: dict[str, Any],
    details: str | None,
    votes: list[tuple[str, str | None]],
    stale: bool,
    stale_at: float | None = None,
    stale_cited: int | None = None,
) -> AnswerRecord:
    """A record from a store's columns (`base`: id, created_at, platform, workspace, channel,
    user, question, answer, answered, sources), its details document (None for answers
    logged before details were kept), its votes (vote, reason) and staleness."""
    found = json.loads(details) if details else {}
    answered = bool(base["answered"])
    return AnswerRecord(
        **base,
        up=sum(vote == "up" for vote, _ in votes),
        down=sum(vote == "down" for vote, _ in votes),
        outcome=found.get("outcome", "answered" if answered else "dont_know"),
        language=found.get("language", "en"),
        scope=tuple(found.get("scope", ())),
        thread=found.get("thread"),
        best_similarity=found.get("best_similarity"),
        margin=found.get("margin"),
        citations=tuple(Citation(**c) for c in found.get("citations", ())),
        latency_ms=found.get("latency_ms"),
        prompt_tokens=found.get("prompt_tokens"),
        completion_tokens=found.get("completion_tokens"),
        down_reasons=tuple(reason for vote, reason in votes if vote == "down" and reason),
        stale=stale,
        stale_at=stale_at,
        stale_cited=stale_cited,
    )


def cited_chunk_ids(details: str | None) -> list[str]:
    """The chunk ids an answer's stored details cite (none for a failure)."""
    return [c["chunk_id"] for c in json.loads(details).get("citations", ())] if details else []


def changed_citation(
    record: AnswerRecord, removed: set[str], kept: set[tuple[str, str]]
) -> int | None:
    """Which of the answer's citations (its index) a sync that removed these chunk ids
    changed or deleted first; None when it changed none of them."""
    for index, cited in enumerate(record.citations):
        if cited.chunk_id in removed and (cited.source, cited.content_hash) not in kept:
            return index
    return None
