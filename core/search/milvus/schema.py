"""The collection's schema and the mapping between rows and helpbot's values.

Two layouts: hybrid (text and heading vectors plus BM25, Milvus 2.5+ and Milvus Lite) and,
on servers without those features (Milvus 2.3), dense-only (the text vector alone)."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.search.milvus.pymilvus_import import DataType, Function, FunctionType, MilvusClient
from core.search.types import Hit, StoredChunk

MODEL_PROPERTY = "helpbot.embedding_model"
DIM_PROPERTY = "helpbot.embedding_dim"
DENSE_OUTPUT_FIELDS = ["source", "url", "title", "heading", "sections", "body", "position", "dense"]
OUTPUT_FIELDS = [*DENSE_OUTPUT_FIELDS, "heading_dense"]
# VARCHAR limits; a Milvus server counts bytes, so display fields are cut to fit.
MAX_BYTES = {"source": 4096, "url": 4096, "title": 1024, "heading": 1024, "sections": 8192}
CHUNKING_PROPERTY = "helpbot.chunking"
LATENT_FIELD = "latent"
_SECTION_SEPARATOR = "\n"  # headings are whitespace-collapsed: they hold no line breaks
_HNSW_BUILD = {"M": 16, "efConstruction": 200}


def create_collection(
    client: MilvusClient,
    collection: str,
    built_with: tuple[str, int, int],
    hybrid: bool,
    timeout: float,
    latent: bool = False,
) -> None:
    """Create the chunk collection and its indexes, recording the embedding model, its
    dimension and the chunking version (`built_with`); with `latent` (hybrid layout only),
    a field for each chunk's latent terms."""
    model_id, dim, chunking = built_with
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    # One collection for every knowledge base; a question's scope is a filter on `kb` that
    # Milvus applies inside the search (docs/knowledge-bases.md says why).
    schema.add_field("kb", DataType.VARCHAR, max_length=64)
    for field in ("source", "url", "title", "heading", "sections"):
        schema.add_field(field, DataType.VARCHAR, max_length=MAX_BYTES[field])
    schema.add_field("position", DataType.INT64)
    schema.add_field("body", DataType.VARCHAR, max_length=65535)
    schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=hybrid)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    index = client.prepare_index_params()
    index.add_index("dense", index_type="HNSW", metric_type="COSINE", params=_HNSW_BUILD)
    if hybrid:
        schema.add_field("heading_dense", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="text_bm25",
                function_type=FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=["sparse"],
            )
        )
        index.add_index(
            "heading_dense", index_type="HNSW", metric_type="COSINE", params=_HNSW_BUILD
        )
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        index.add_index("kb", index_type="INVERTED")
        if latent:
            schema.add_field(LATENT_FIELD, DataType.SPARSE_FLOAT_VECTOR)
            index.add_index(LATENT_FIELD, index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    client.create_collection(
        collection,
        schema=schema,
        properties={
            MODEL_PROPERTY: model_id,
            DIM_PROPERTY: str(dim),
            CHUNKING_PROPERTY: str(chunking),
        },
        # A sync reads back what it just wrote; servers default to Bounded staleness.
        consistency_level="Strong",
        timeout=timeout,
    )
    # sync=False: waiting for the build needs AllocTimestamp, which Milvus Lite lacks
    # (it logs three tracebacks and stalls); loading the collection waits for it anyway.
    client.create_index(collection, index, timeout=timeout, sync=False)


def built_with_chunking(info: dict[str, Any]) -> int:
    """The chunking version a described collection was built with (1: before it was kept)."""
    properties = info.get("properties") or {}
    return int(properties.get(CHUNKING_PROPERTY, 1))


def built_with_model(info: dict[str, Any]) -> tuple[str, int]:
    """The embedding model and dimension a described collection was built with."""
    properties = info.get("properties") or {}
    return str(properties.get(MODEL_PROPERTY, "unknown")), int(properties.get(DIM_PROPERTY, 0))


def to_row(c: StoredChunk, with_heading_vector: bool, with_latent: bool = False) -> dict[str, Any]:
    """A chunk as an upsert row; display fields cut to the VARCHAR limits."""
    row: dict[str, Any] = {
        "id": c.id,
        "kb": c.kb,
        "source": c.source,
        "url": _fit(c.url, MAX_BYTES["url"]),
        "title": _fit(c.title, MAX_BYTES["title"]),
        "heading": _fit(c.heading, MAX_BYTES["heading"]),
        "sections": _fit(_SECTION_SEPARATOR.join(c.sections), MAX_BYTES["sections"]),
        "position": c.position,
        "body": c.body,
        "text": c.text,
        "dense": np.asarray(c.dense, dtype=np.float32).tolist(),
    }
    if with_heading_vector:
        row["heading_dense"] = np.asarray(c.heading_dense, dtype=np.float32).tolist()
    if with_latent:
        if not c.latent:
            raise ValueError(f"chunk {c.id} has no latent terms for a collection that keeps them")
        row[LATENT_FIELD] = c.latent
    return row


def to_hit(row: dict[str, Any], query: np.ndarray) -> Hit:
    """A search row as a Hit; similarity is the closer of the text and heading vectors
    (the text vector alone in the dense-only layout)."""
    entity = row["entity"]
    similarity = max(
        float(np.asarray(entity[field], dtype=np.float32) @ query)
        for field in ("dense", "heading_dense")
        if field in entity
    )
    return Hit(
        id=row["id"],
        source=entity["source"],
        url=entity["url"],
        title=entity["title"],
        heading=entity["heading"],
        position=int(entity["position"]),
        body=entity["body"],
        sections=tuple(entity["sections"].split(_SECTION_SEPARATOR)) if entity["sections"] else (),
        similarity=similarity,
    )


def _fit(text: str, max_bytes: int) -> str:
    """Cut text to at most `max_bytes` of UTF-8 without splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[: max_bytes - 3].decode("utf-8", errors="ignore") + "…"
