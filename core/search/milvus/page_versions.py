"""What each downloaded page's server said identifies its version (ETag, Last-Modified), in
a small collection beside the chunks: the next sync, from this process or another one (a
`helpbot sync` from cron, `serve` after a restart), asks with them and an unchanged page
answers 304, costing no download and no embedding."""

from __future__ import annotations

import hashlib
import json

from core.search.milvus.pymilvus_import import CollectionSchema, DataType, MilvusClient
from core.search.milvus.rows import every_row
from core.search.milvus.side_collections import PLACEHOLDER, ensure_side_collection
from core.search.types import Validators

_MAX_URL_BYTES = 4096
_MAX_VALIDATOR_BYTES = 1024
_PAGE = 1000


def page_versions_collection(collection: str) -> str:
    return f"{collection}_pages"


def ensure_page_versions_collection(client: MilvusClient, name: str, timeout: float) -> None:
    """Create the collection if missing, and load it."""

    def add_fields(schema: CollectionSchema) -> None:
        schema.add_field("url", DataType.VARCHAR, max_length=_MAX_URL_BYTES)
        schema.add_field("etag", DataType.VARCHAR, max_length=_MAX_VALIDATOR_BYTES)
        schema.add_field("last_modified", DataType.VARCHAR, max_length=_MAX_VALIDATOR_BYTES)

    ensure_side_collection(client, name, add_fields, timeout)


def read_page_versions(
    client: MilvusClient, name: str, kb: str, timeout: float, server: bool
) -> dict[str, Validators]:
    where = f"kb == {json.dumps(kb, ensure_ascii=False)}"
    rows = every_row(client, name, where, ["url", "etag", "last_modified"], timeout, server)
    return {
        row["url"]: Validators(row["etag"] or None, row["last_modified"] or None) for row in rows
    }


def write_page_versions(
    client: MilvusClient,
    name: str,
    kb: str,
    versions: dict[str, Validators],
    gone: list[str],
    timeout: float,
) -> None:
    """Record `versions` (URL: validators) and forget the URLs in `gone`. A URL or validator
    too long for the record is not kept: that page is downloaded whole next time."""
    rows = [
        {
            "id": _page_id(kb, url),
            "kb": kb,
            "url": url,
            "etag": version.etag or "",
            "last_modified": version.last_modified or "",
            "placeholder": PLACEHOLDER,
        }
        for url, version in versions.items()
        if _fits(url, _MAX_URL_BYTES)
        and _fits(version.etag or "", _MAX_VALIDATOR_BYTES)
        and _fits(version.last_modified or "", _MAX_VALIDATOR_BYTES)
    ]
    for start in range(0, len(rows), _PAGE):
        client.upsert(name, rows[start : start + _PAGE], timeout=timeout)
    ids = [_page_id(kb, url) for url in gone]
    for start in range(0, len(ids), _PAGE):
        client.delete(name, ids=ids[start : start + _PAGE], timeout=timeout)


def _fits(value: str, limit: int) -> bool:
    return len(value.encode("utf-8")) <= limit


def _page_id(kb: str, url: str) -> str:
    return hashlib.sha256(f"{kb}\0{url}".encode()).hexdigest()[:32]
