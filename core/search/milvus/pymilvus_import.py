"""Import pymilvus safely. At import time pymilvus loads a `.env` it finds above its own
folder and parses MILVUS_URI as a server address; helpbot's MILVUS_URI may be a Milvus Lite
path, which that check rejects. The variable is blanked for the import only. Importing this
module also quiets gRPC's C-core logging unless GRPC_VERBOSITY is already set."""

from __future__ import annotations

import os

# gRPC's C core logs every keepalive GOAWAY from the Milvus Lite server to stderr; they are
# harmless (the client reconnects) and errors still surface as exceptions. Operators who want
# them set GRPC_VERBOSITY themselves.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")
_saved = os.environ.get("MILVUS_URI")
os.environ["MILVUS_URI"] = ""  # an existing variable is not overridden by pymilvus's .env load
try:
    from pymilvus import (
        AnnSearchRequest,
        CollectionSchema,
        DataType,
        Function,
        FunctionType,
        MilvusClient,
        MilvusException,
        RRFRanker,
        WeightedRanker,
    )
    from pymilvus.client.types import LoadState
finally:
    if _saved is None:
        os.environ.pop("MILVUS_URI", None)
    else:
        os.environ["MILVUS_URI"] = _saved

__all__ = [
    "AnnSearchRequest",
    "CollectionSchema",
    "DataType",
    "Function",
    "FunctionType",
    "LoadState",
    "MilvusClient",
    "MilvusException",
    "RRFRanker",
    "WeightedRanker",
]
