"""Each chunk's hubness, computed when a knowledge base changes and kept in a small collection
beside the chunks, so a question pays one lookup by id for it instead of a search per
candidate.

A hub is a chunk close to everything (a page of code, a list of release notes): it outscores
the answer for many questions, worst across languages. Its hubness is its mean similarity to
its nearest chunks in the same knowledge base (as in CSLS, Conneau et al. 2018)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from core.search.milvus.pymilvus_import import DataType, MilvusClient
from core.search.milvus.side_collections import PLACEHOLDER, ensure_side_collection
from core.search.types import Hit

_PAGE = 1000
# Rows of the similarity matrix computed at once: 256 x N floats (10 MB at N = 10,000).
_BLOCK = 256


def hubness_collection(collection: str) -> str:
    return f"{collection}_hubness"


def ensure_hubness_collection(client: MilvusClient, name: str, timeout: float) -> None:
    """Create the hubness collection if missing, and load it."""
    ensure_side_collection(
        client, name, lambda schema: schema.add_field("hubness", DataType.FLOAT), timeout
    )


def mean_neighbour_similarity(vectors: np.ndarray, neighbours: int) -> np.ndarray:
    """Each row's mean cosine similarity to its `neighbours` most similar other rows (exact,
    in blocks of rows so memory stays linear in the number of chunks); 0 for a lone row."""
    count = len(vectors)
    k = min(neighbours, count - 1)
    if k <= 0:
        return np.zeros(count, dtype=np.float32)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    unit = unit.astype(np.float32, copy=False)
    result = np.empty(count, dtype=np.float32)
    for start in range(0, count, _BLOCK):
        block = unit[start : start + _BLOCK] @ unit.T
        rows = np.arange(len(block))
        block[rows, start + rows] = -np.inf  # not its own neighbour
        nearest = np.partition(block, count - k, axis=1)[:, count - k :]
        result[start : start + len(block)] = nearest.mean(axis=1)
    return result


def read_hubness(
    client: MilvusClient, name: str, ids: list[str], timeout: float
) -> dict[str, float]:
    """The stored hubness of these chunks; a chunk without one (written by a sync that has
    not finished) is missing from the result."""
    if not ids:
        return {}
    rows = client.query(name, ids=ids, output_fields=["hubness"], timeout=timeout)
    return {row["id"]: float(row["hubness"]) for row in rows}


def less_hubness(
    client: MilvusClient, name: str, hits: list[Hit], penalty: float, timeout: float
) -> list[Hit]:
    """Hits ordered by similarity, less each one's stored hubness times `penalty`; the
    similarity shown and thresholded stays the raw one."""
    hubness = read_hubness(client, name, [hit.id for hit in hits], timeout) if penalty else {}
    # A chunk a running sync wrote has none yet: it is ranked as a typical candidate.
    typical = float(np.mean(list(hubness.values()))) if hubness else 0.0
    # Stable sort: equal scores keep their fused (BM25-informed) order.
    return sorted(
        hits, key=lambda hit: -round(hit.similarity - penalty * hubness.get(hit.id, typical), 3)
    )


def has_hubness(client: MilvusClient, name: str, kb: str, timeout: float) -> bool:
    """Whether any chunk of `kb` has its hubness stored (none: built before it was kept)."""
    where = f"kb == {json.dumps(kb, ensure_ascii=False)}"
    return bool(client.query(name, filter=where, output_fields=["id"], limit=1, timeout=timeout))


def store_hubness(
    client: MilvusClient,
    name: str,
    kb: str,
    rows: list[dict[str, Any]],
    neighbours: int,
    timeout: float,
) -> None:
    """Compute and keep the hubness of `kb`'s chunks (`rows`: each one's id and `dense`
    vector, the whole knowledge base)."""
    if not rows:
        return
    vectors = np.asarray([row["dense"] for row in rows], dtype=np.float32)
    values = mean_neighbour_similarity(vectors, neighbours)
    write_hubness(
        client,
        name,
        kb,
        {row["id"]: float(v) for row, v in zip(rows, values, strict=True)},
        timeout,
    )
    client.flush(name, timeout=timeout)


def write_hubness(
    client: MilvusClient, name: str, kb: str, values: dict[str, float], timeout: float
) -> None:
    rows = [
        {"id": cid, "kb": kb, "hubness": value, "placeholder": PLACEHOLDER}
        for cid, value in values.items()
    ]
    for start in range(0, len(rows), _PAGE):
        client.upsert(name, rows[start : start + _PAGE], timeout=timeout)


def delete_hubness(client: MilvusClient, name: str, ids: Iterable[str], timeout: float) -> None:
    id_list = list(ids)
    for start in range(0, len(id_list), _PAGE):
        client.delete(name, ids=id_list[start : start + _PAGE], timeout=timeout)
