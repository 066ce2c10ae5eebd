"""What a Milvus server can do, found by trying it: older servers (2.3.x) have no BM25 full-text
search, no sparse vectors, one vector field per collection and no hybrid search. Version
strings differ between Milvus, Milvus Lite and Zilliz Cloud, so features are probed instead."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import grpc

from core.search.milvus.pymilvus_import import (
    AnnSearchRequest,
    DataType,
    Function,
    FunctionType,
    MilvusClient,
    MilvusException,
    RRFRanker,
)


@dataclass(frozen=True)
class Capabilities:
    """The features helpbot's hybrid schema needs; `hybrid` is True when all are there."""

    version: str
    full_text: bool
    multi_vector: bool
    hybrid_search: bool

    @property
    def hybrid(self) -> bool:
        return self.full_text and self.multi_vector and self.hybrid_search


def probe(client: MilvusClient, timeout: float) -> Capabilities:
    """Try each feature on throwaway collections (about 40 ms, nothing left behind).

    Milvus 2.3 accepts a BM25 schema but silently drops the function, and loading such a
    collection aborts the server: the probe collection is only created, described and
    dropped, never loaded.
    """
    name = f"helpbot_probe_{uuid.uuid4().hex[:12]}"
    return Capabilities(
        version=str(client.get_server_version(timeout=timeout)),
        full_text=_try_full_text(client, name, timeout),
        multi_vector=_try_two_vector_fields(client, name, timeout),
        hybrid_search=_has_hybrid_search(client, name, timeout),
    )


def _try_full_text(client: MilvusClient, name: str, timeout: float) -> bool:
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("text", DataType.VARCHAR, max_length=256, enable_analyzer=True)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["text"],
            output_field_names=["sparse"],
        )
    )
    try:
        client.create_collection(name, schema=schema, timeout=timeout)
        functions = client.describe_collection(name, timeout=timeout).get("functions") or []
        return any(f.get("type") == FunctionType.BM25 for f in functions)
    except MilvusException:
        return False
    finally:
        _drop(client, name, timeout)


def _try_two_vector_fields(client: MilvusClient, name: str, timeout: float) -> bool:
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("a", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("b", DataType.FLOAT_VECTOR, dim=2)
    try:
        client.create_collection(name, schema=schema, timeout=timeout)
        return True
    except MilvusException:
        return False
    finally:
        _drop(client, name, timeout)


def _has_hybrid_search(client: MilvusClient, name: str, timeout: float) -> bool:
    """Call HybridSearch on a collection that does not exist: "no such collection" means
    the method is there; gRPC UNIMPLEMENTED means it is not."""
    request = AnnSearchRequest([[0.1, 0.2]], "a", {}, 1)
    try:
        client.hybrid_search(f"{name}_missing", [request], RRFRanker(), limit=1, timeout=timeout)
    except grpc.RpcError as exc:
        return exc.code() != grpc.StatusCode.UNIMPLEMENTED
    except MilvusException:
        return True
    return True


def _drop(client: MilvusClient, name: str, timeout: float) -> None:
    if client.has_collection(name, timeout=timeout):
        client.drop_collection(name, timeout=timeout)
