"""Connecting to Milvus, and what only a Milvus Lite file needs: a writable folder, one
process at a time, and index files that a crash can leave damaged."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from core.errors import RetrievalError
from core.private_files import make_private_folder
from core.search.milvus.lite_engine import shared_engine_uri
from core.search.milvus.pymilvus_import import MilvusClient, MilvusException

log = logging.getLogger(__name__)

_CONNECT_ATTEMPTS = 3
_CONNECT_RETRY_S = 1.0
_CONNECT_FAILED = 2  # pymilvus's code for "Fail connecting to server"
_NOT_LOADED = 101  # Milvus's error code for a collection that is not loaded
# pymilvus pings every 10 s, calls or none. A gRPC server with the default policy (such as
# `milvus-lite server`, which `helpbot serve` runs for a Lite file, and the one pymilvus
# itself starts for a Lite file opened in this process) counts pings without calls more
# often than every 5 minutes as abuse and closes the connection ("too many pings"), failing
# the calls on it. Pinging only during calls, every 6 minutes at most, keeps within that
# policy and any server's.
_GRPC_OPTIONS = {"grpc.keepalive_time_ms": 360_000, "grpc.keepalive_permit_without_calls": 0}


def connect(uri: str, token: str | None, timeout: float) -> tuple[MilvusClient, str]:
    """A client for a server URI or a Lite file, and the URI it connected to: the engine
    `helpbot serve` runs for the file while it runs (see lite_engine), else the file. A clear
    error for the Lite failures pymilvus reports only as "Open local milvus failed"."""
    if "://" not in uri:
        shared = shared_engine_uri(uri)
        if shared is not None:
            return _server_client(shared, None, timeout), shared
        _check_writable(uri, Path(uri).parent)
    try:
        if "://" in uri:
            return _server_client(uri, token, timeout), uri
        return _client(uri, token, timeout), uri
    except MilvusException as exc:
        if "://" in uri or "Open local milvus failed" not in str(exc.message):
            raise
        # milvus-lite refuses a second process on the same file (DataDirLockedError inside).
        raise RetrievalError(
            f"cannot open {uri}: Milvus Lite allows one process per file and "
            "another helpbot process may have it open; stop that process, run `helpbot serve` "
            "(other commands share its file), or set MILVUS_URI=http://host:19530"
        ) from exc


def _server_client(uri: str, token: str | None, timeout: float) -> MilvusClient:
    """A client for a server, retried a moment later when connecting failed at once: a gRPC
    connection the server just closed (a GOAWAY such as milvus-lite's "too many pings" for
    idle clients' keepalives) fails the next connect quickly. A server that is down fails
    only after the whole timeout, and is not waited for again."""
    attempt = 1
    while True:
        started = time.monotonic()
        try:
            return _client(uri, token, timeout)
        except MilvusException as exc:
            quick = time.monotonic() - started < timeout / 2
            if exc.code != _CONNECT_FAILED or not quick or attempt == _CONNECT_ATTEMPTS:
                raise
            log.warning("connecting to Milvus failed (%s); trying again", exc.message)
            attempt += 1
            time.sleep(_CONNECT_RETRY_S)


def _client(uri: str, token: str | None, timeout: float) -> MilvusClient:
    return MilvusClient(uri=uri, token=token or "", timeout=timeout, grpc_options=_GRPC_OPTIONS)


def _check_writable(uri: str, folder: Path) -> None:
    """An unwritable folder fails the same way as a file another process holds: try first,
    to say which it is."""
    try:
        make_private_folder(folder)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise RetrievalError(
            f"cannot open {uri}: cannot write to {folder} ({exc.strerror or exc}); "
            "set MILVUS_URI to a file in a folder you can write"
        ) from exc


def remove_damaged_indexes(error: RetrievalError, uri: str, collection: str) -> bool:
    """After a crash (kill -9 while an index was written), a Milvus Lite index file can be
    truncated and every later load fails on it. Indexes are derived data: when `error` is
    such a failure, delete the collection's index files, and the load rebuilds them from the
    rows. True when there were any to delete."""
    text = str(error)  # FAISS's read error names the file; numpy's mentions pickled data
    if not ("/indexes/" in text or ".idx" in text or "pickled" in text):
        return False
    partitions = Path(uri) / "collections" / collection / "partitions"
    files = [f for f in partitions.glob("*/indexes/*") if f.is_file()]
    for file in files:
        file.unlink()
    if files:
        log.warning(
            "Milvus Lite could not load %r (a damaged index file after a crash?): "
            "removed its %d index files, which are rebuilt from the stored rows",
            collection,
            len(files),
        )
    return bool(files)


def not_loaded(error: RetrievalError) -> bool:
    """Milvus's "collection not loaded" (code 101), as each server words it."""
    cause = error.__cause__
    if isinstance(cause, MilvusException) and cause.code == _NOT_LOADED:
        return True
    text = str(error).lower()
    return "not loaded" in text or "state 'released'" in text
