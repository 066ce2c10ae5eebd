"""Retrieval quality on a labelled question set: recall@1, recall@k and MRR per language, and
how often the service says "I don't know" when it should and when it should not."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import BadInputError
from core.ingest.chunking import collapse_whitespace
from core.models import Query
from core.search.types import Hit

__all__ = ["EvalItem", "EvalOutcome", "evaluate", "load_eval_items", "summarize"]


@dataclass(frozen=True)
class EvalItem:
    """One labelled question; `source` and `heading` are None when the docs do not answer it."""

    question: str
    lang: str
    source: str | None
    heading: str | None

    @property
    def answerable(self) -> bool:
        return self.source is not None


@dataclass(frozen=True)
class EvalOutcome:
    """What retrieval did for one item: the rank of the first correct chunk (1-based, None
    when absent) and whether the service would have abstained."""

    item: EvalItem
    rank: int | None
    abstained: bool


Retriever = Callable[[Query], Awaitable[tuple[Sequence[Hit], bool]]]
"""Returns the ranked hits for a query and whether the service would abstain."""


def load_eval_items(path: Path) -> list[EvalItem]:
    """Read an eval file (one JSON object a line), with a clear error for a bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadInputError(f"cannot read eval file {path}: {exc.strerror or exc}") from exc
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            items.append(EvalItem(row["question"], row["lang"], row["source"], row["heading"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise BadInputError(f"{path}:{number}: not an eval item ({exc})") from exc
    if not items:
        raise BadInputError(f"{path} has no eval items")
    return items


def is_match(hit: Hit, item: EvalItem) -> bool:
    """The hit is the labelled section: same file (suffix at a `/` boundary), same heading."""
    if item.source is None or item.heading is None:
        return False
    same_file = hit.source == item.source or hit.source.endswith("/" + item.source)
    return same_file and collapse_whitespace(hit.heading) == collapse_whitespace(item.heading)


async def evaluate(
    items: list[EvalItem],
    retrieve: Retriever,
    progress: Callable[[str, int, int], None] = lambda stage, done, total: None,
) -> list[EvalOutcome]:
    """Run every item through `retrieve`, in order."""
    outcomes = []
    for done, item in enumerate(items, start=1):
        hits, abstained = await retrieve(Query(item.question))
        rank = next((n for n, hit in enumerate(hits, start=1) if is_match(hit, item)), None)
        outcomes.append(EvalOutcome(item, rank, abstained))
        progress("eval", done, len(items))
    return outcomes


def summarize(outcomes: list[EvalOutcome], k: int) -> dict[str, Any]:
    """The stable JSON shape of `helpbot eval --json`."""
    by_lang: dict[str, dict[str, float | int]] = {}
    for lang in sorted({o.item.lang for o in outcomes if o.item.answerable}):
        ranks = [o.rank for o in outcomes if o.item.answerable and o.item.lang == lang]
        n = len(ranks)
        by_lang[lang] = {
            "n": n,
            "recall@1": _ratio(sum(1 for r in ranks if r == 1), n),
            f"recall@{k}": _ratio(sum(1 for r in ranks if r is not None and r <= k), n),
            "mrr": _ratio(sum(1 / r for r in ranks if r is not None), n),
        }
    unanswerable = [o for o in outcomes if not o.item.answerable]
    return {
        "k": k,
        "by_lang": by_lang,
        "unanswerable": {
            "n": len(unanswerable),
            "abstained": sum(1 for o in unanswerable if o.abstained),
        },
        "answerable_abstained": sum(1 for o in outcomes if o.item.answerable and o.abstained),
    }


def _ratio(count: float, total: int) -> float:
    return round(count / total, 4) if total else 0.0
