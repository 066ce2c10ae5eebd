"""Values that cross the core/adapter boundary. All frozen, so they can be shared freely."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Answer",
    "Mode",
    "Origin",
    "Outcome",
    "Query",
    "Readiness",
    "Role",
    "Source",
    "Timings",
    "TokenUsage",
    "Turn",
]

Role = Literal["user", "assistant"]
Mode = Literal["generative", "extractive"]
Outcome = Literal["answered", "unsure", "dont_know"]
"""An answer from the docs, one given with a warning that they may not cover the question,
or "I don't know"."""


@dataclass(frozen=True)
class Turn:
    """One earlier message of the conversation."""

    role: Role
    text: str


@dataclass(frozen=True)
class Origin:
    """Where a question came from; every part is optional (the CLI has none)."""

    platform: str | None = None
    workspace: str | None = None
    channel: str | None = None
    user: str | None = None
    thread: str | None = None
    """Where the reply goes: a Slack thread's ts, a Discord message or thread id."""


@dataclass(frozen=True)
class Query:
    """A question, the conversation before it, and the knowledge bases it may search
    (none given: the configured default knowledge base)."""

    text: str
    history: tuple[Turn, ...] = ()
    origin: Origin = field(default_factory=Origin)
    knowledge_bases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    """A passage an answer rests on; `number` matches the [n] markers in the answer text."""

    number: int
    source: str
    title: str
    heading: str
    snippet: str
    score: float
    url: str | None = None
    chunk_id: str = ""
    content_hash: str = ""
    """Of the passage's text: a sync that changes the text changes it (stale answers)."""


@dataclass(frozen=True)
class Timings:
    """Milliseconds spent in each stage of one answer."""

    embed_ms: float = 0.0
    search_ms: float = 0.0
    generate_ms: float = 0.0
    total_ms: float = 0.0


@dataclass(frozen=True)
class TokenUsage:
    """What the language model reports it used for one answer."""

    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Answer:
    """The complete answer: text, whether the docs covered it, its sources and timings."""

    text: str
    answered: bool
    mode: Mode
    sources: tuple[Source, ...] = ()
    timings: Timings = field(default_factory=Timings)
    language: str = "en"
    unsure: bool = False
    """Answered, but the match is weak (or the model hedged): shown with a warning."""
    best_similarity: float | None = None
    margin: float | None = None
    """How far the best match stands above the ones behind it (None with too few)."""
    usage: TokenUsage | None = None

    @property
    def outcome(self) -> Outcome:
        if not self.answered:
            return "dont_know"
        return "unsure" if self.unsure else "answered"


@dataclass(frozen=True)
class Readiness:
    """Whether the service can answer now, with one line per dependency checked."""

    ready: bool
    checks: dict[str, str] = field(default_factory=dict)
