"""Every row of a collection matching a filter, on any Milvus."""

from __future__ import annotations

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
