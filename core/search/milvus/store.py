"""The chunk collection in Milvus: lifecycle, writes, hybrid search. Every pymilvus call goes
through `_call`, which runs it in a worker thread with a timeout and maps its errors.

Two layouts: hybrid (text and heading vectors plus BM25, Milvus 2.5+ and Milvus Lite) and,
on servers without those features (Milvus 2.3), dense-only (the text vector alone)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

import numpy as np

from core.errors import EmbeddingMismatchError, NotIngestedError, RetrievalError, StaleChunkingError
from core.search.milvus.capabilities import probe
from core.search.milvus.connection import connect, not_loaded, remove_damaged_indexes
from core.search.milvus.hubness import (
    delete_hubness,
    ensure_hubness_collection,
    has_hubness,
    hubness_collection,
    less_hubness,
    store_hubness,
)
from core.search.milvus.latent_search import latent_closeness
from core.search.milvus.lite_engine import writing
from core.search.milvus.page_versions import (
    ensure_page_versions_collection,
    page_versions_collection,
    read_page_versions,
    write_page_versions,
)
from core.search.milvus.pymilvus_import import (
    AnnSearchRequest,
    LoadState,
    MilvusClient,
    MilvusException,
    RRFRanker,
    WeightedRanker,
)
from core.search.milvus.roots import (
    delete_records,
    ensure_roots_collection,
    read_records,
    roots_collection,
    write_records,
)
from core.search.milvus.rows import every_row, kb_filter, literal
from core.search.milvus.schema import (
    DENSE_OUTPUT_FIELDS,
    LATENT_FIELD,
    OUTPUT_FIELDS,
    built_with_chunking,
    built_with_model,
    create_collection,
    to_hit,
    to_row,
)
from core.search.types import (
    ChunkRef,
    Hit,
    LatentTerms,
    RootRecord,
    SearchConfig,
    StoredChunk,
    Validators,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# Dense-first fusion re-ranks this many candidates per requested hit.
_DENSE_FIRST_POOL = 2
_PAGE = 1000


class MilvusStore:
    """One collection of chunks, on Milvus Lite, a Milvus server or Zilliz Cloud."""

    def __init__(
        self,
        uri: str,
        collection: str,
        token: str | None = None,
        timeout_s: float = 30.0,
        search: SearchConfig | None = None,
        chunking_version: int = 1,
    ) -> None:
        """`chunking_version`: the ingest rules' version; a collection built with another
        one is refused until it is re-ingested."""
        self._uri = uri
        self._token = token
        self._timeout = timeout_s
        self.collection = collection
        self._search = search or SearchConfig()
        self._chunking_version = chunking_version
        self._client: MilvusClient | None = None
        self._connected_to = uri  # a Lite file's shared engine while `serve` runs
        # The open collection's layout: True hybrid, False dense-only, None not opened yet.
        self._hybrid: bool | None = None
        self._latent = False
        self._hubness = hubness_collection(collection)

    async def start(self) -> None:
        """Connect (Milvus Lite starts its engine here, which blocks for a moment)."""
        if self._client is None:
            self._client, self._connected_to = await self._call(
                connect, self._uri, self._token, self._timeout
            )

    async def stop(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await self._call(client.close)

    @property
    def client(self) -> MilvusClient:
        if self._client is None:
            raise RuntimeError("MilvusStore.start() was not awaited")
        return self._client

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except MilvusException as exc:
            raise RetrievalError(f"Milvus: {exc.message}") from exc
        except Exception as exc:  # grpc and connection errors have no common base
            if isinstance(exc, RetrievalError):
                raise
            raise RetrievalError(f"Milvus: {type(exc).__name__}: {exc}") from exc

    # --- collection lifecycle -------------------------------------------------------------

    async def exists(self) -> bool:
        return await self._call(self.client.has_collection, self.collection, timeout=self._timeout)

    @property
    def is_server(self) -> bool:
        """Connected to a Milvus server (Zilliz Cloud, or the engine `serve` runs for a Lite
        file), not to a Milvus Lite file in this process."""
        return "://" in self._connected_to

    def writing(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Held while a sync or forget writes: on a Lite file, one writer at a time across
        processes; a server orders its writes itself."""
        return contextlib.nullcontext() if "://" in self._uri else writing(self._uri)

    async def open(self, model_id: str, dim: int, create: bool = False) -> None:
        """Load the collection for search, checking it was built with this embedding model.

        With `create`, a missing collection is created (hybrid where the server can, else
        dense-only, with a warning); otherwise it is an error.
        """
        if not await self.exists():
            if not create:
                raise NotIngestedError(
                    f"collection {self.collection!r} does not exist yet: "
                    "ingest documents first (`helpbot ingest PATH`)"
                )
            hybrid = await self._server_has_hybrid()
            built = (model_id, dim, self._chunking_version)
            latent = hybrid and self._search.latent_terms
            await self._call(
                create_collection,
                self.client,
                self.collection,
                built,
                hybrid,
                self._timeout,
                latent,
            )
            self._hybrid, self._latent = hybrid, latent
        else:
            info = await self._call(
                self.client.describe_collection, self.collection, timeout=self._timeout
            )
            fields = {f.get("name") for f in info.get("fields", [])}
            self._hybrid, self._latent = "sparse" in fields, LATENT_FIELD in fields
            built_with = built_with_model(info)
            if built_with != (model_id, dim):
                raise EmbeddingMismatchError(
                    f"collection {self.collection!r} was built with {built_with[0]} "
                    f"(dim {built_with[1]}) but the configured model is {model_id} (dim {dim}); "
                    "re-ingest with `helpbot ingest --recreate PATH...`"
                )
            chunking = built_with_chunking(info)
            if chunking != self._chunking_version:
                # Older rules: re-ingest. Newer ones: a newer helpbot built it (a downgrade).
                remedy = (
                    "re-ingest to apply the new chunking"
                    if chunking < self._chunking_version
                    else "a newer helpbot built it: upgrade helpbot, or re-ingest"
                )
                raise StaleChunkingError(
                    f"collection {self.collection!r} was built with chunking rules version "
                    f"{chunking} and this helpbot uses version {self._chunking_version}: "
                    f"{remedy} (`helpbot ingest --recreate PATH...`)"
                )
        # A reopened Milvus Lite file has its collections released.
        try:
            await self._call(self.client.load_collection, self.collection, timeout=self._timeout)
        except RetrievalError as exc:
            if self.is_server or not remove_damaged_indexes(exc, self._uri, self.collection):
                raise
            await self._call(self.client.load_collection, self.collection, timeout=self._timeout)
        await self._call(ensure_hubness_collection, self.client, self._hubness, self._timeout)

    @property
    def layout(self) -> Literal["hybrid", "dense-only"] | None:
        """How the open collection is searched: dense vectors and BM25, or dense only (a
        server without full-text search); None before open()."""
        if self._hybrid is None:
            return None
        return "hybrid" if self._hybrid else "dense-only"

    @property
    def keeps_latent_terms(self) -> bool:
        """Whether the open collection stores each chunk's latent terms (a sync must write
        them; a question's rerank compares with them)."""
        return self._latent

    async def latent_closeness(self, question: LatentTerms, ids: list[str]) -> dict[str, float]:
        """Each chunk's latent-terms cosine with the question's (see latent_search.py)."""
        return await self._call(
            latent_closeness, self.client, self.collection, question, ids, self._timeout
        )

    async def _server_has_hybrid(self) -> bool:
        if "://" not in self._uri:  # a Lite file, in this process or in serve's engine
            return True  # Milvus Lite has every feature the hybrid layout needs
        found = await self._call(probe, self.client, self._timeout)
        if not found.hybrid:
            log.warning(
                "Milvus %s lacks BM25 full-text search, a second vector field or hybrid "
                "search: collection %r will be dense-only (Milvus 2.5 or later searches both)",
                found.version,
                self.collection,
            )
        return found.hybrid

    async def is_loaded(self) -> bool:
        """Whether the collection is loaded for search right now (a server may release it)."""
        state = await self._call(self.client.get_load_state, self.collection, timeout=self._timeout)
        return state.get("state") == LoadState.Loaded

    async def embedding_model(self) -> tuple[str, int]:
        info = await self._call(
            self.client.describe_collection, self.collection, timeout=self._timeout
        )
        return built_with_model(info)

    async def drop(self) -> None:
        """Drop the chunks, their hubness and the records of where they came from."""
        for name in (
            self.collection,
            self._hubness,
            roots_collection(self.collection),
            page_versions_collection(self.collection),
        ):
            if await self._call(self.client.has_collection, name, timeout=self._timeout):
                await self._call(self.client.drop_collection, name, timeout=self._timeout)

    # --- where each ingested root came from -------------------------------------------------

    async def root_records(self, kb: str | None = None) -> list[RootRecord]:
        """Where each ingested root of `kb` (or of every knowledge base) came from."""
        name = await self._roots()
        return await self._call(read_records, self.client, name, kb, self._timeout)

    async def record_roots(self, records: list[RootRecord]) -> None:
        name = await self._roots()
        await self._call(write_records, self.client, name, records, self._timeout)

    async def forget_roots(self, kb: str, scopes: list[str]) -> None:
        name = await self._roots()
        await self._call(delete_records, self.client, name, kb, scopes, self._timeout)

    async def page_versions(self, kb: str) -> dict[str, Validators]:
        """The validators of each page downloaded into `kb` (see `record_page_versions`)."""
        name = page_versions_collection(self.collection)
        if not await self._call(self.client.has_collection, name, timeout=self._timeout):
            return {}
        await self._call(ensure_page_versions_collection, self.client, name, self._timeout)
        server = "://" in self._uri
        return await self._call(read_page_versions, self.client, name, kb, self._timeout, server)

    async def record_page_versions(
        self, kb: str, versions: dict[str, Validators], gone: list[str]
    ) -> None:
        """Keep `versions` for the next sync's conditional requests; forget `gone` URLs."""
        name = page_versions_collection(self.collection)
        await self._call(ensure_page_versions_collection, self.client, name, self._timeout)
        await self._call(write_page_versions, self.client, name, kb, versions, gone, self._timeout)

    async def _roots(self) -> str:
        name = roots_collection(self.collection)
        await self._call(ensure_roots_collection, self.client, name, self._timeout)
        return name

    # --- writes ---------------------------------------------------------------------------

    async def upsert(self, chunks: list[StoredChunk]) -> None:
        if not chunks:
            return
        rows = [to_row(c, self._hybrid is not False, self._latent) for c in chunks]
        await self._call(self.client.upsert, self.collection, rows, timeout=self._timeout)

    async def delete(self, ids: Iterable[str]) -> None:
        """Delete chunks and their hubness."""
        id_list = list(ids)
        for start in range(0, len(id_list), _PAGE):
            await self._call(
                self.client.delete,
                self.collection,
                ids=id_list[start : start + _PAGE],
                timeout=self._timeout,
            )
        if id_list:
            await self._call(delete_hubness, self.client, self._hubness, id_list, self._timeout)

    async def update_hubness(self, kb: str, changed: bool) -> None:
        """Recompute the hubness of every chunk in `kb` after a sync changed it (`changed`),
        or when none is stored yet (a collection built before it was kept). Needs the whole
        knowledge base's text vectors in memory: 1.5 KB per chunk."""
        if not changed and await self._call(
            has_hubness, self.client, self._hubness, kb, self._timeout
        ):
            return
        rows = await self._call(self._rows, f"kb == {literal(kb)}", ["dense"])
        neighbours = self._search.hub_neighbours
        await self._call(
            store_hubness, self.client, self._hubness, kb, rows, neighbours, self._timeout
        )

    async def flush(self) -> None:
        """Seal written rows into indexed segments: unflushed rows are searched by brute force."""
        await self._call(self.client.flush, self.collection, timeout=self._timeout)

    # --- reads ----------------------------------------------------------------------------

    async def chunk_refs(self, kb: str | None = None) -> list[ChunkRef]:
        """Every chunk of a knowledge base (or of all), without text or vectors."""
        return await self._call(self._chunk_refs, kb)

    def _chunk_refs(self, kb: str | None) -> list[ChunkRef]:
        where = f"kb == {literal(kb)}" if kb is not None else 'id != ""'
        rows = self._rows(where, ["kb", "source", "position"])
        return [ChunkRef(r["id"], r["kb"], r["source"], int(r["position"])) for r in rows]

    async def sample_texts(self, kbs: tuple[str, ...], limit: int) -> list[str]:
        """Up to `limit` chunk texts of these knowledge bases (to tell their language)."""
        fields = {"filter": kb_filter(list(kbs)), "output_fields": ["body"], "limit": limit}
        rows = await self._call(self.client.query, self.collection, timeout=self._timeout, **fields)
        return [str(row["body"]) for row in rows]

    def _rows(self, where: str, fields: list[str]) -> list[dict[str, Any]]:
        """Every chunk row matching `where`, with `fields` and the id."""
        server = "://" in self._uri
        return every_row(self.client, self.collection, where, fields, self._timeout, server)

    async def search(
        self, vector: np.ndarray, text: str, kbs: tuple[str, ...], limit: int
    ) -> list[Hit]:
        """The best chunks for a question in the given knowledge bases, best first.

        A server that restarted has the collection released (Milvus Lite's server) or still
        loading (Milvus): it is loaded again and the search retried once, so the bot recovers
        without a restart of its own.
        """
        try:
            return await self._search_once(vector, text, kbs, limit)
        except RetrievalError as exc:
            if not not_loaded(exc):
                raise
            log.warning(
                "collection %r is not loaded (did Milvus restart?); loading it", self.collection
            )
            for name in (self.collection, self._hubness):
                await self._call(self.client.load_collection, name, timeout=self._timeout)
            return await self._search_once(vector, text, kbs, limit)

    async def _search_once(
        self, vector: np.ndarray, text: str, kbs: tuple[str, ...], limit: int
    ) -> list[Hit]:
        if self._hybrid is False:
            return await self._call(self._dense_search, vector, list(kbs), limit)
        return await self._call(self._hybrid_search, vector, text, list(kbs), limit)

    def _dense_search(self, vector: np.ndarray, kbs: list[str], limit: int) -> list[Hit]:
        """The dense-only layout: nearest text vectors, no BM25 or heading vectors."""
        query = np.asarray(vector, dtype=np.float32)
        pool = limit * _DENSE_FIRST_POOL if self._search.hub_penalty else limit
        results = self.client.search(
            self.collection,
            data=[query.tolist()],
            anns_field="dense",
            search_params={"metric_type": "COSINE", "params": {"ef": max(self._search.ef, pool)}},
            filter=kb_filter(kbs),
            limit=pool,
            output_fields=DENSE_OUTPUT_FIELDS,
            timeout=self._timeout,
        )
        return self._closest_first(results[0], query)[:limit]

    def _closest_first(self, rows: list[dict[str, Any]], query: np.ndarray) -> list[Hit]:
        """Candidates ordered by similarity less their hubness (see hubness.py)."""
        hits = [to_hit(row, query) for row in rows]
        penalty = self._search.hub_penalty
        return less_hubness(self.client, self._hubness, hits, penalty, self._timeout)

    def _hybrid_search(
        self, vector: np.ndarray, text: str, kbs: list[str], limit: int
    ) -> list[Hit]:
        query = np.asarray(vector, dtype=np.float32)
        fusion = self._search.fusion
        pool = limit * _DENSE_FIRST_POOL if fusion == "dense" else limit
        expr = kb_filter(kbs)
        dense_params = {"metric_type": "COSINE", "params": {"ef": max(self._search.ef, pool)}}
        # Only question headings have vectors of their own (any other heading's is its
        # text's): they add candidates for dense-first ordering, but a list that mostly
        # repeats the text list would count it twice in Milvus's own fusions.
        fields = ("dense", "heading_dense") if fusion == "dense" else ("dense",)
        requests = [
            AnnSearchRequest([query.tolist()], field, dense_params, pool, expr=expr)
            for field in fields
        ]
        requests.append(
            AnnSearchRequest([text], "sparse", {"metric_type": "BM25"}, pool, expr=expr)
        )
        ranker = (
            WeightedRanker(self._search.dense_weight, 1 - self._search.dense_weight)
            if fusion == "weighted"
            else RRFRanker(self._search.rrf_k)
        )
        results = self.client.hybrid_search(
            self.collection,
            requests,
            ranker,
            limit=pool,
            output_fields=OUTPUT_FIELDS,
            timeout=self._timeout,
        )
        if fusion == "dense":
            return self._closest_first(results[0], query)[:limit]
        return [to_hit(row, query) for row in results[0]][:limit]
