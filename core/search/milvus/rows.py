"""Every row of a collection matching a filter, on any Milvus, and the filters helpbot uses."""

from __future__ import annotations

import json
from typing import Any

from core.search.milvus.pymilvus_import import MilvusClient

_PAGE = 1000


def every_row(
    client: MilvusClient,
    collection: str,
    where: str,
    fields: list[str],
    timeout: float,
    server: bool,
) -> list[dict[str, Any]]:
    """The rows matching `where`, with `fields` and the id."""
    if not server:
        # Milvus Lite (in this process or in serve's engine) returns every match, and lacks
        # the AllocTimestamp query_iterator needs.
        return client.query(collection, filter=where, output_fields=fields, timeout=timeout)
    # A server returns at most 16384 rows per query: page through them.
    iterator = client.query_iterator(
        collection, batch_size=_PAGE, filter=where, output_fields=fields, timeout=timeout
    )
    rows: list[dict[str, Any]] = []
    try:
        while page := iterator.next():
            rows += page
    finally:
        iterator.close()
    return rows


def kb_filter(kbs: list[str]) -> str:
    """The rows of these knowledge bases."""
    return f"kb in [{', '.join(literal(kb) for kb in kbs)}]"


def literal(value: str) -> str:
    """A Milvus filter string literal (Milvus Lite does not support filter templates)."""
    return json.dumps(value, ensure_ascii=False)
