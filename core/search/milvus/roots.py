"""Where each ingested root of a knowledge base came from, in a small collection beside the
chunks, so every process sharing the store sees the same record.

A root's scope (`handbook`) names its sources (`handbook/a.md`); its origin is the path or URL
it was read from. Two origins with one scope would delete each other's chunks, so a sync
compares them first; the sources file removes the roots it owns and no others."""

from __future__ import annotations

import hashlib
import json

from core.search.milvus.pymilvus_import import CollectionSchema, DataType, MilvusClient
from core.search.milvus.side_collections import PLACEHOLDER, ensure_side_collection
from core.search.types import RootRecord

_MAX_BYTES = 4096
_FIELDS = ["kb", "scope", "origin", "is_dir", "owner", "synced_at", "error"]


def roots_collection(collection: str) -> str:
    return f"{collection}_roots"


def ensure_roots_collection(client: MilvusClient, name: str, timeout: float) -> None:
    """Create the record's collection if missing, and load it."""

    def add_fields(schema: CollectionSchema) -> None:
        schema.add_field("scope", DataType.VARCHAR, max_length=_MAX_BYTES)
        schema.add_field("origin", DataType.VARCHAR, max_length=_MAX_BYTES)

    # Dynamic fields let later records carry more without a migration.
    ensure_side_collection(client, name, add_fields, timeout, dynamic=True)


def read_records(
    client: MilvusClient, name: str, kb: str | None, timeout: float
) -> list[RootRecord]:
    """The records of `kb`, or of every knowledge base."""
    where = f"kb == {json.dumps(kb, ensure_ascii=False)}" if kb is not None else 'id != ""'
    rows = client.query(name, filter=where, output_fields=_FIELDS, timeout=timeout)
    return [
        # Records written before owners were kept are folders or files added by hand.
        RootRecord(
            row["kb"],
            row["scope"],
            row["origin"],
            bool(row.get("is_dir", True)),
            str(row.get("owner", "cli")),
            float(row.get("synced_at", 0.0)),
            str(row.get("error", "")),
        )
        for row in rows
    ]


def write_records(
    client: MilvusClient, name: str, records: list[RootRecord], timeout: float
) -> None:
    rows = [
        {
            "id": _record_id(record.kb, record.scope),
            "kb": record.kb,
            "scope": record.scope,
            "origin": record.origin,
            "is_dir": record.is_dir,
            "owner": record.owner,
            "synced_at": record.synced_at,
            "error": record.error[:_MAX_BYTES],
            "placeholder": PLACEHOLDER,
        }
        for record in records
        if recordable(record.scope) and recordable(record.origin)
    ]
    if rows:
        client.upsert(name, rows, timeout=timeout)


def delete_records(
    client: MilvusClient, name: str, kb: str, scopes: list[str], timeout: float
) -> None:
    if scopes:
        client.delete(name, ids=[_record_id(kb, scope) for scope in scopes], timeout=timeout)


def recordable(value: str) -> bool:
    """Whether a scope or origin fits the record (a longer one is not compared)."""
    return len(value.encode("utf-8")) <= _MAX_BYTES


def _record_id(kb: str, scope: str) -> str:
    return hashlib.sha256(f"{kb}\0{scope}".encode()).hexdigest()[:32]
