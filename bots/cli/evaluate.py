"""`helpbot eval`: recall and "I don't know" figures per language on a labelled question file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bots.cli.ask import scope_of
from bots.cli.progress import Progress
from core import BadInputError, Helpbot, Hit, Query, Settings, evaluate, load_eval_items, summarize

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
    items = load_eval_items(command.file)
    knowledge_bases = scope_of(command.kb)
    limit = max(command.k, settings.top_k)
    async with Helpbot(settings) as bot:

        async def retrieve(query: Query) -> tuple[Sequence[Hit], bool]:
            scoped = replace(query, knowledge_bases=knowledge_bases)
            found = await bot.service.retrieve(scoped, limit)
            if not command.answers:
                return found.hits, not found.relevant
            answer = await bot.service.answer(scoped)
            return found.hits, not answer.answered

        with Progress(enabled=not command.json) as progress:
            outcomes = await evaluate(items, retrieve, progress.update)
    figures = summarize(outcomes, command.k)
    if command.json:
        print(json.dumps(figures))
        return 0
    k = command.k
    print(f"{'lang':<6}{'n':>4}{'recall@1':>10}{f'recall@{k}':>10}{'mrr':>8}")
    for lang, row in figures["by_lang"].items():
        print(
            f"{lang:<6}{row['n']:>4}{row['recall@1']:>10.3f}"
            f"{row[f'recall@{k}']:>10.3f}{row['mrr']:>8.3f}"
        )
    unanswerable = figures["unanswerable"]
    decided_by = f"model {settings.llm_model} and retrieval" if command.answers else "retrieval"
    print(
        f"unanswerable: {unanswerable['abstained']}/{unanswerable['n']} answered "
        f'"I don\'t know"; answerable wrongly abstained: {figures["answerable_abstained"]} '
        f"(decided by the {decided_by})"
    )
    return 0
