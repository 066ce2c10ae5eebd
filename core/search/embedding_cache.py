"""A SQLite cache of passage vectors keyed by model and text hash: unchanged text is never
embedded twice, across re-ingests and processes."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from core.errors import FileInUseError
from core.private_files import create_private_file
from core.search.embeddings import Embedder

# How long a call waits for another process (a second `helpbot ingest`, a bot re-embedding)
# to release the file before giving up.
BUSY_TIMEOUT_S = 30.0


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors by (model id, sha256 of text). Every SQLite call runs in a worker thread."""

    def __init__(self, path: Path, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self._path = path
        create_private_file(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=busy_timeout_s, check_same_thread=False)
        try:
            with self._lock, self._in_use_error(), self._db:
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS vectors ("
                    " model TEXT NOT NULL, text_hash TEXT NOT NULL, vector BLOB NOT NULL,"
                    " PRIMARY KEY (model, text_hash))"
                )
        except FileInUseError:
            self._db.close()
            raise

    async def get_many(self, model: str, keys: list[str]) -> dict[str, np.ndarray]:
        return await asyncio.to_thread(self._get_many, model, keys)

    async def put_many(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        await asyncio.to_thread(self._put_many, model, vectors)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _in_use_error(self) -> Iterator[None]:
        """SQLite's "database is locked", once the busy timeout has passed, as an error that
        names the file and the likely cause."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            # The primary code: SQLITE_BUSY also comes as extended codes (BUSY_SNAPSHOT...).
            if exc.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            raise FileInUseError(
                f"the embedding cache {self._path} is locked: another process (a second "
                "`helpbot ingest`, or a bot) is using it; wait for it to finish, or set "
                "EMBEDDING_CACHE_PATH to another file"
            ) from exc

    def _get_many(self, model: str, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock, self._in_use_error():
            for start in range(0, len(keys), 500):
                batch = keys[start : start + 500]
                marks = ",".join("?" * len(batch))
                rows = self._db.execute(
                    "SELECT text_hash, vector FROM vectors"
                    f" WHERE model = ? AND text_hash IN ({marks})",
                    [model, *batch],
                )
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def _put_many(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with self._lock, self._in_use_error(), self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (model, text_hash, vector) VALUES (?, ?, ?)",
                [(model, k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in vectors.items()],
            )


async def embed_with_cache(
    embedder: Embedder,
    cache: EmbeddingCache | None,
    texts: list[str],
    batch_size: int,
    on_embedded: Callable[[int], None] = lambda n: None,
) -> list[np.ndarray]:
    """Vectors for `texts`, embedding only those the cache lacks, in batches.

    `on_embedded(n)` is called after every batch, and once for the cache hits, so a progress
    bar can count every text (repeats of a text count with the cache hits).
    """

    async def embed(batch: list[str]) -> Sequence[np.ndarray]:
        return list(await embedder.embed_passages(batch))

    return await cached_arrays(embedder.model_id, embed, cache, texts, batch_size, on_embedded)


async def cached_arrays(
    model: str,
    compute: Callable[[list[str]], Awaitable[Sequence[np.ndarray]]],
    cache: EmbeddingCache | None,
    texts: list[str],
    batch_size: int,
    on_done: Callable[[int], None] = lambda n: None,
) -> list[np.ndarray]:
    """One array per text, from the cache under `model` where it has them, the rest from
    `compute` in batches (and cached); `on_done(n)` as in `embed_with_cache`."""
    keys = [text_key(t) for t in texts]
    cached = await cache.get_many(model, keys) if cache else {}
    missing: dict[str, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key not in cached:
            missing.setdefault(key, text)
    on_done(len(texts) - len(missing))
    pending = list(missing.items())
    for start in range(0, len(pending), batch_size):
        batch = pending[start : start + batch_size]
        arrays = await compute([text for _, text in batch])
        fresh = {key: arrays[row] for row, (key, _) in enumerate(batch)}
        if cache:
            await cache.put_many(model, fresh)
        cached.update(fresh)
        on_done(len(batch))
    return [cached[k] for k in keys]
