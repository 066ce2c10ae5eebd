"""Small collections beside the chunks (where roots came from, each chunk's hubness), so every
process sharing the store reads the same data. Milvus needs a vector field in every
collection: a two-dimensional placeholder that is never searched."""

from __future__ import annotations

from collections.abc import Callable

from core.search.milvus.pymilvus_import import CollectionSchema, DataType, MilvusClient

PLACEHOLDER = [0.0, 0.0]


def ensure_side_collection(
    client: MilvusClient,
    name: str,
    add_fields: Callable[[CollectionSchema], None],
    timeout: float,
    dynamic: bool = False,
) -> None:
    """Create the collection if missing (a string `id` key, a `kb`, the fields `add_fields`
    adds, the placeholder vector), and load it."""
    if not client.has_collection(name, timeout=timeout):
        schema = client.create_schema(auto_id=False, enable_dynamic_field=dynamic)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("kb", DataType.VARCHAR, max_length=64)
        add_fields(schema)
        schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER))
        index = client.prepare_index_params()
        index.add_index("placeholder", index_type="FLAT", metric_type="L2")
        client.create_collection(name, schema=schema, consistency_level="Strong", timeout=timeout)
        client.create_index(name, index, timeout=timeout, sync=False)
    client.load_collection(name, timeout=timeout)
