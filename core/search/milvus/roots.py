"""Where each ingested root of a knowledge base came from, in a small collection beside the
chunks, so every process sharing the store sees the same record.

A root's scope (`handbook`) names its sources (`handbook/a.md`); its origin is the path or URL
it was read from. Two origins with one scope would delete each other's chunks, so a sync
compares them first. Milvus needs a vector field in every collection: a two-dimensional
placeholder that is never searched."""

from __future__ import annotations

import hashlib
import json

from core.search.milvus.pymilvus_import import DataType, MilvusClient

_MAX_BYTES = 4096
_PLACEHOLDER = [0.0, 0.0]


def roots_collection(collection: str) -> str:
    return f"{collection}_roots"


def ensure_roots_collection(client: MilvusClient, name: str, timeout: float) -> None:
    """Create the record's collection if missing, and load it."""
    if not client.has_collection(name, timeout=timeout):
        # Dynamic fields let later records carry more (which sources file owns a root)
        # without a migration.
        schema = client.create_schema(auto_id=False, enable_dynamic_field=True)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("kb", DataType.VARCHAR, max_length=64)
        schema.add_field("scope", DataType.VARCHAR, max_length=_MAX_BYTES)
        schema.add_field("origin", DataType.VARCHAR, max_length=_MAX_BYTES)
        schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=len(_PLACEHOLDER))
        index = client.prepare_index_params()
        index.add_index("placeholder", index_type="FLAT", metric_type="L2")
        client.create_collection(name, schema=schema, consistency_level="Strong", timeout=timeout)
        client.create_index(name, index, timeout=timeout, sync=False)
    client.load_collection(name, timeout=timeout)


def read_origins(client: MilvusClient, name: str, kb: str, timeout: float) -> dict[str, str]:
    """Each recorded scope of `kb` and its origin."""
    rows = client.query(
        name,
        filter=f"kb == {json.dumps(kb, ensure_ascii=False)}",
        output_fields=["scope", "origin"],
        timeout=timeout,
    )
    return {row["scope"]: row["origin"] for row in rows}


def write_origins(
    client: MilvusClient, name: str, kb: str, origins: dict[str, str], timeout: float
) -> None:
    rows = [
        {
            "id": hashlib.sha256(f"{kb}\0{scope}".encode()).hexdigest()[:32],
            "kb": kb,
            "scope": scope,
            "origin": origin,
            "placeholder": _PLACEHOLDER,
        }
        for scope, origin in origins.items()
        if recordable(scope) and recordable(origin)
    ]
    if rows:
        client.upsert(name, rows, timeout=timeout)


def recordable(value: str) -> bool:
    """Whether a scope or origin fits the record (a longer one is not compared)."""
    return len(value.encode("utf-8")) <= _MAX_BYTES
