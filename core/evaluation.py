"""Retrieval quality on a labelled question set: per language, how often the right page and
the right section are among the first k chunks (and MRR), and how often the service says "I
don't know" (or that it is unsure) when it should and when it should not.

A question may be answered by several places; each label names a file and, optionally, the
heading of the section that answers (none: the page as a whole). A chunk shows a section
when it overlaps it: the section's heading is on the chunk's path or starts inside it
(`Hit.sections`), which holds however the sections are cut into chunks."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import BadInputError
from core.ingest.chunking import collapse_whitespace
from core.models import Outcome, Query
from core.search.types import Hit

__all__ = [
    "EvalItem",
    "EvalOutcome",
    "EvalSet",
    "Label",
    "evaluate",
    "load_eval_items",
    "read_eval_set",
    "summarize",
]


@dataclass(frozen=True)
class Label:
    """One place that answers a question: a file, and the section's heading (None: the page)."""

    source: str
    heading: str | None = None


@dataclass(frozen=True)
class EvalItem:
    """One labelled question; no labels when the docs do not answer it."""

    question: str
    lang: str
    answers: tuple[Label, ...] = ()
    line: int | None = field(default=None, compare=False)
    """Its line in the eval file, to name it in an error."""

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True)
class EvalOutcome:
    """What retrieval did for one item: the 1-based rank of the first chunk of a right page
    and of a right section (None when absent), and what the service would have said."""

    item: EvalItem
    page_rank: int | None
    section_rank: int | None
    outcome: Outcome


Retriever = Callable[[Query], Awaitable[tuple[Sequence[Hit], Outcome]]]
"""Returns the ranked hits for a query and the outcome the service would give."""


@dataclass(frozen=True)
class EvalSet:
    """An eval file's labelled items, and how many cases still need a label (exported from
    👎 and "I don't know" answers by `helpbot feedback --export-eval`): those are skipped."""

    items: list[EvalItem]
    needs_label: int = 0


def load_eval_items(path: Path) -> list[EvalItem]:
    """The labelled items of an eval file (see `read_eval_set`)."""
    return read_eval_set(path).items


def read_eval_set(path: Path) -> EvalSet:
    """Read an eval file (one JSON object a line), with a clear error for a bad line.

    A line has `question`, `lang`, and either `answers` (a list of `{source, heading}`) or
    the older single `source` and `heading` (null when the docs do not answer); a label
    without a heading names the whole page. A line with `"needs_label": true` is a question
    nobody labelled yet, counted and skipped."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # a BOM is not line 1's
    except OSError as exc:
        raise BadInputError(f"cannot read eval file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path} is not UTF-8 text (byte {exc.start})") from exc
    items = []
    needs_label = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if isinstance(row, dict) and row.get("needs_label") is True:
                needs_label += 1
                continue
            items.append(_item(row, number))
        except json.JSONDecodeError as exc:
            raise BadInputError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        except ValueError as exc:
            raise BadInputError(f"{path}:{number}: not an eval item: {exc}") from exc
    if not items:
        unlabelled = f" ({needs_label} need a label)" if needs_label else ""
        raise BadInputError(f"{path} has no labelled eval items{unlabelled}")
    return EvalSet(items, needs_label)


def _item(row: Any, line: int) -> EvalItem:
    """One line's item; a ValueError that says what is wrong with it."""
    if not isinstance(row, dict):
        raise ValueError("a line is one JSON object")
    question, lang = row.get("question"), row.get("lang")
    if not isinstance(question, str) or not question.strip():
        raise ValueError('"question" must be a non-empty string')
    if not isinstance(lang, str) or not lang.strip():
        raise ValueError('"lang" must be a language code such as "en"')
    if "answers" in row:
        if not isinstance(row["answers"], list):
            raise ValueError('"answers" must be a list of {"source", "heading"}')
        labels = tuple(_label(answer) for answer in row["answers"])
    elif "source" in row:
        labels = (_label(row),) if row["source"] is not None else ()
    else:
        raise ValueError('it needs "answers" (a list; empty when the docs do not answer)')
    return EvalItem(question, lang, labels, line)


def _label(value: Any) -> Label:
    if not isinstance(value, dict):
        raise ValueError('each answer is an object {"source", "heading"}')
    source, heading = value.get("source"), value.get("heading")
    if not isinstance(source, str) or not source.strip():
        raise ValueError('"source" must be a file path (relative to the ingested folder)')
    if heading is not None and not isinstance(heading, str):
        raise ValueError('"heading" must be a heading\'s text, or null for the whole page')
    return Label(source, heading)


def on_page(hit: Hit, label: Label) -> bool:
    """The hit comes from the labelled file (its source ends with it at a `/` boundary)."""
    return hit.source == label.source or hit.source.endswith("/" + label.source)


def in_section(hit: Hit, label: Label) -> bool:
    """The hit overlaps the labelled section (any part of the page for a page label)."""
    if not on_page(hit, label):
        return False
    if label.heading is None:
        return True
    wanted = collapse_whitespace(label.heading)
    shown = hit.sections or (hit.heading,)
    return any(collapse_whitespace(heading) == wanted for heading in shown)


async def evaluate(
    items: list[EvalItem],
    retrieve: Retriever,
    progress: Callable[[str, int, int], None] = lambda stage, done, total: None,
) -> list[EvalOutcome]:
    """Run every item through `retrieve`, in order."""
    outcomes = []
    for done, item in enumerate(items, start=1):
        try:
            hits, outcome = await retrieve(Query(item.question))
        except BadInputError as exc:  # a question the service refuses (too long, say)
            where = f"line {item.line}" if item.line else f"question {done}"
            raise BadInputError(f"{where} of the eval file: {exc}") from exc
        page = _first(hits, item.answers, on_page)
        section = _first(hits, item.answers, in_section)
        outcomes.append(EvalOutcome(item, page, section, outcome))
        progress("eval", done, len(items))
    return outcomes


def _first(
    hits: Sequence[Hit], labels: tuple[Label, ...], matches: Callable[[Hit, Label], bool]
) -> int | None:
    """The rank of the first hit that matches any label."""
    ranks = (n for n, hit in enumerate(hits, start=1) if any(matches(hit, x) for x in labels))
    return next(ranks, None)


def summarize(outcomes: list[EvalOutcome], k: int) -> dict[str, Any]:
    """The stable JSON shape of `helpbot eval --json`: section-level recall (`recall@1`,
    `recall@k`, `mrr`), page-level beside it (`page@1`, `page@k`, `page_mrr`), and per
    language how many answerable and unanswerable questions got each outcome."""
    by_lang: dict[str, dict[str, Any]] = {}
    for lang in sorted({o.item.lang for o in outcomes}):
        mine = [o for o in outcomes if o.item.lang == lang]
        answerable = [o for o in mine if o.item.answerable]
        row: dict[str, Any] = {"n": len(answerable)}
        if answerable:
            row |= _recall([o.section_rank for o in answerable], k, "recall", "mrr")
            row |= _recall([o.page_rank for o in answerable], k, "page", "page_mrr")
        row["outcomes"] = {
            "answerable": _count(answerable),
            "unanswerable": _count([o for o in mine if not o.item.answerable]),
        }
        by_lang[lang] = row
    unanswerable = [o for o in outcomes if not o.item.answerable]
    answerable = [o for o in outcomes if o.item.answerable]
    return {
        "k": k,
        "by_lang": by_lang,
        "unanswerable": {
            "n": len(unanswerable),
            "abstained": sum(1 for o in unanswerable if o.outcome == "dont_know"),
            "unsure": sum(1 for o in unanswerable if o.outcome == "unsure"),
        },
        "answerable_abstained": sum(1 for o in answerable if o.outcome == "dont_know"),
        "answerable_unsure": sum(1 for o in answerable if o.outcome == "unsure"),
    }


def _recall(ranks: list[int | None], k: int, at: str, mrr: str) -> dict[str, float]:
    """`{at}@1`, `{at}@{k}` and `{mrr}` of 1-based ranks (None: not found)."""
    n = len(ranks)
    return {
        f"{at}@1": _ratio(sum(1 for r in ranks if r == 1), n),
        f"{at}@{k}": _ratio(sum(1 for r in ranks if r is not None and r <= k), n),
        mrr: _ratio(sum(1 / r for r in ranks if r), n),
    }


def _count(outcomes: list[EvalOutcome]) -> dict[str, int]:
    return {
        name: sum(1 for o in outcomes if o.outcome == name)
        for name in ("answered", "unsure", "dont_know")
    }


def _ratio(count: float, total: int) -> float:
    return round(count / total, 4) if total else 0.0
