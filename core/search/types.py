"""The values search passes around: chunks as written, chunk references and hits. Kept apart
from the Milvus store so that prompts, evaluation and the CLI can use them without importing
pymilvus."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["FUSIONS", "Fusion", "Hit"]

Fusion = Literal["rrf", "weighted", "dense"]
FUSIONS: tuple[Fusion, ...] = ("rrf", "weighted", "dense")


@dataclass(frozen=True)
class StoredChunk:
    """A chunk row as written: content id, where it comes from, its texts and its vector."""

    id: str
    kb: str
    source: str
    url: str
    title: str
    heading: str
    position: int
    body: str
    text: str
    dense: np.ndarray
    heading_dense: np.ndarray


@dataclass(frozen=True)
class ChunkRef:
    """What sync needs to know about a stored chunk without reading its text."""

    id: str
    kb: str
    source: str
    position: int


@dataclass(frozen=True)
class Hit:
    """A search result: the chunk and its cosine similarity to the question."""

    id: str
    source: str
    url: str
    title: str
    heading: str
    position: int
    body: str
    similarity: float


@dataclass(frozen=True)
class SearchConfig:
    """How the three searches (text vectors, heading vectors, BM25) are fused.

    `rrf` and `weighted` are Milvus's rankers; `dense` takes the candidates of an RRF search
    and orders them by their best cosine similarity (text or heading), so BM25 finds
    candidates and breaks near ties but cannot outvote a clearly closer meaning.
    """

    fusion: Fusion = "dense"
    rrf_k: int = 60
    dense_weight: float = 0.7
    ef: int = 512
