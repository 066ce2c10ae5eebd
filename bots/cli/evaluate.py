"""`helpbot eval`: recall and "I don't know" figures per language on a labelled question file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bots.cli.ask import scope_of
from bots.cli.progress import Progress
from core import (
    BadInputError,
    Helpbot,
    Hit,
    Outcome,
    Query,
    Settings,
    evaluate,
    read_eval_set,
    summarize,
)

__all__ = ["EvalCommand", "run_eval"]


@dataclass(frozen=True)
class EvalCommand:
    """The question file, the recall cut-off, and whether full answers decide abstention."""

    file: Path
    k: int = 3
    kb: str | None = None
    json: bool = False
    answers: bool = False


async def run_eval(settings: Settings, command: EvalCommand) -> int:
    """Run every question through retrieval (and the model with `answers`), print figures."""
    if command.k < 1:
        raise BadInputError("--k must be at least 1")
    if command.answers and not settings.llm_configured:
        raise BadInputError(
            "--answers needs a language model (set LLM_BASE_URL or LLM_API_KEY); without one, "
            '"I don\'t know" comes from the relevance threshold alone, which plain '
            "`helpbot eval` measures"
        )
    eval_set = read_eval_set(command.file)
    items = eval_set.items
    if eval_set.needs_label and not command.json:
        print(f"skipped {eval_set.needs_label} questions that need a label (needs_label)")
    knowledge_bases = scope_of(command.kb)
    limit = max(command.k, settings.top_k)
    async with Helpbot(settings) as bot:

        async def retrieve(query: Query) -> tuple[Sequence[Hit], Outcome]:
            scoped = replace(query, knowledge_bases=knowledge_bases)
            found = await bot.service.retrieve(scoped, limit)
            if command.answers:
                return found.hits, (await bot.service.answer(scoped)).outcome
            if not found.relevant:
                return found.hits, "dont_know"
            return found.hits, "unsure" if found.unsure else "answered"

        with Progress(enabled=not command.json) as progress:
            outcomes = await evaluate(items, retrieve, progress.update)
    figures = summarize(outcomes, command.k) | {"needs_label": eval_set.needs_label}
    if command.json:
        print(json.dumps(figures))
        return 0
    _print_table(figures, command.k)
    decided_by = f"model {settings.llm_model} and retrieval" if command.answers else "retrieval"
    unanswerable = figures["unanswerable"]
    print(
        f"unanswerable: {unanswerable['abstained']}/{unanswerable['n']} answered "
        f'"I don\'t know", {unanswerable["unsure"]} "unsure"; answerable: '
        f'{figures["answerable_abstained"]} "I don\'t know", {figures["answerable_unsure"]} '
        f'"unsure" (decided by the {decided_by})'
    )
    return 0


def _print_table(figures: dict[str, Any], k: int) -> None:
    """Section-level recall, page-level beside it, and the outcomes per language: answerable
    questions answered / unsure / "I don't know", then the unanswerable ones."""
    columns = ("recall@1", f"recall@{k}", "mrr", "page@1", f"page@{k}", "page_mrr")
    print(f"{'lang':<6}{'n':>4}" + "".join(f"{c:>10}" for c in columns) + "   outcomes")
    for lang, row in figures["by_lang"].items():
        cells = "".join(f"{row[c]:>10.3f}" if c in row else f"{'-':>10}" for c in columns)
        yes, no = row["outcomes"]["answerable"], row["outcomes"]["unanswerable"]
        shown = "/".join(str(yes[o]) for o in ("answered", "unsure", "dont_know"))
        shown += "  " + "/".join(str(no[o]) for o in ("answered", "unsure", "dont_know"))
        print(f"{lang:<6}{row['n']:>4}{cells}   {shown}")
