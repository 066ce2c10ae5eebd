"""What a sync computes for a batch of chunks before writing them: the text vectors, the
heading vectors and, where the collection keeps them, the latent terms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.ingest.chunking import Chunk, is_question
from core.search.embedding_cache import EmbeddingCache, embed_with_cache
from core.search.embeddings import Embedder
from core.search.latent_terms import LatentReader, latent_with_cache
from core.search.types import LatentTerms


@dataclass(frozen=True)
class ChunkVectors:
    """One chunk's vectors: its text's, its heading's, and its latent terms (or None)."""

    text: np.ndarray
    heading: np.ndarray
    latent: LatentTerms | None


async def chunk_vectors(
    chunks: list[Chunk],
    texts: list[str],
    embedder: Embedder,
    cache: EmbeddingCache | None,
    latent: LatentReader | None,
    batch_size: int,
    on_embedded: Callable[[int], None],
    on_terms: Callable[[int], None],
) -> list[ChunkVectors]:
    """Vectors for `chunks` (whose embedded `texts` are given), from the cache where it has
    them; latent terms only with a `latent` reader. `on_embedded(n)` and `on_terms(n)` count
    the chunks done."""
    vectors = await embed_with_cache(embedder, cache, texts, batch_size, on_embedded)
    # A question heading (an FAQ entry) gets a vector of its own; any other heading's vector
    # is the text's, so a terse heading never outscores the text it heads.
    questions = [chunk.heading for chunk in chunks if is_question(chunk.heading)]
    asked = dict(
        zip(
            questions,
            await embed_with_cache(embedder, cache, questions, batch_size),
            strict=True,
        )
    )
    terms: list[LatentTerms | None] = [None] * len(texts)
    if latent:
        terms = list(await latent_with_cache(latent, cache, texts, batch_size, on_terms))
    return [
        ChunkVectors(vector, asked.get(chunk.heading, vector), chunk_terms)
        for chunk, vector, chunk_terms in zip(chunks, vectors, terms, strict=True)
    ]
