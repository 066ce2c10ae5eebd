"""The weekly digest: what was asked, how it went, the top gaps, which documents answers rest
on and which none do, and answers gone stale. Plain text with bullets, which Slack and Discord
both show as written; each adapter escapes it for its platform and keeps it within limits."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.learning.answer_log import AnswerRecord
from core.learning.gaps import Gap

__all__ = ["Digest", "build_digest"]

_TOP = 5
_NEVER_CITED_SHOWN = 10
_QUESTION_CHARS = 140


@dataclass(frozen=True)
class Digest:
    """One period's digest; `text` is what gets posted or printed."""

    since: float
    until: float
    asked: int
    outcomes: dict[str, int]
    up: int
    down: int
    stale: int
    text: str


def build_digest(
    records: Sequence[AnswerRecord],
    gaps: Sequence[Gap],
    documents: Iterable[str],
    since: float,
    until: float,
    gone_stale: Sequence[AnswerRecord] = (),
) -> Digest:
    """The digest of `records` (the replies logged in [since, until)), with their `gaps`;
    `documents` are the sources in the knowledge bases, for the never-cited list;
    `gone_stale` the answers a sync made stale in the period, whenever they were given."""
    outcomes: Counter[str] = Counter(r.outcome for r in records)
    asked = len(records)
    up, down = sum(r.up for r in records), sum(r.down for r in records)
    stale = len(gone_stale)
    cited = Counter(c.source for r in records for c in r.citations)
    never = sorted(set(documents) - set(cited))
    lines = [
        f"helpbot digest, {_day(since)} to {_day(until)}",
        "",
        f"Questions asked: {asked}",
    ]
    if asked:
        shares = ", ".join(
            f"{label} {outcomes.get(key, 0)} ({_share(outcomes.get(key, 0), asked)})"
            for key, label in (
                ("answered", "answered"),
                ("unsure", "unsure"),
                ("dont_know", "don't know"),
                ("error", "errors"),
                ("not_enabled", "not enabled"),
            )
            if outcomes.get(key, 0) or key in ("answered", "unsure", "dont_know")
        )
        lines.append(f"Outcomes: {shares}")
    lines.append(f"Votes: {up} up, {down} down")
    lines.append(f"Answers gone stale (a cited section changed): {stale}")
    lines += [f"• {_short(r.question)}" for r in gone_stale[:_TOP] if r.question.strip()]
    if gaps:
        lines += ["", f"Top gaps ({len(gaps)} in all; `helpbot gaps` lists them):"]
        for gap in gaps[:_TOP]:
            kind = "not covered" if gap.kind == "not_covered" else "covered poorly"
            lines.append(
                f"• {gap.id} ({gap.size} questions, {kind}, {gap.status}): "
                f"{_short(gap.representative)}"
            )
    if cited:
        lines += ["", "Most cited documents:"]
        lines += [f"• {source} ({count})" for source, count in cited.most_common(_TOP)]
    if never:
        more = len(never) - _NEVER_CITED_SHOWN
        lines += ["", f"Never cited ({len(never)}):"]
        lines += [f"• {source}" for source in never[:_NEVER_CITED_SHOWN]]
        if more > 0:
            lines.append(f"• … and {more} more")
    return Digest(since, until, asked, dict(outcomes), up, down, stale, "\n".join(lines))


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.0f}%"


def _day(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def _short(question: str) -> str:
    flat = " ".join(question.split())
    return flat if len(flat) <= _QUESTION_CHARS else flat[: _QUESTION_CHARS - 1] + "…"
