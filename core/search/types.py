"""The values search passes around: chunks as written, chunk references and hits. Kept apart
from the Milvus store so that prompts, evaluation and the CLI can use them without importing
pymilvus."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Fusion", "Hit", "LatentTerms", "Rerank", "RootRecord", "Validators", "content_hash"]

Fusion = Literal["rrf", "weighted", "dense"]
Rerank = Literal["latent", "off"]
RERANK_DEPTH = 20
"""How many sections, in the dense order, the latent terms may reorder (`RERANK_DEPTH`)."""
LatentTerms = dict[int, float]
"""A text's latent terms: feature id to weight, unit length (core/search/latent_terms.py)."""


@dataclass(frozen=True)
class Validators:
    """What a server said identifies a response's version (ETag, Last-Modified), sent back
    with the next request to ask whether it changed since."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


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
    sections: tuple[str, ...] = ()
    latent: LatentTerms | None = None


@dataclass(frozen=True)
class ChunkRef:
    """What sync needs to know about a stored chunk without reading its text."""

    id: str
    kb: str
    source: str
    position: int


@dataclass(frozen=True)
class RootRecord:
    """Where one ingested root of a knowledge base came from, and who added it.

    `scope` names its sources (`handbook` owns `handbook/a.md` when `is_dir`, else only
    itself); `origin` is the path or URL it was read from; `owner` is "cli" for `helpbot
    ingest` and "sources-file" for the sources file, whose sync removes only its own roots.
    """

    kb: str
    scope: str
    origin: str
    is_dir: bool
    owner: str
    synced_at: float = 0.0
    """When it was last synced (Unix time); 0 when not known."""
    error: str = ""
    """Why its last sync failed (its chunks were kept); "" when it did not."""

    def owns(self, source: str) -> bool:
        return scope_owns(self.scope, self.is_dir, source)


def scope_owns(scope: str, is_dir: bool, source: str) -> bool:
    """Whether an ingested root named `scope` owns `source`: a folder, zip or site every
    source under it, a file or page only itself."""
    return source.startswith(scope + "/") if is_dir else source == scope


@dataclass(frozen=True)
class Hit:
    """A search result: the chunk, its cosine similarity to the question, and the headings
    of the sections it overlaps (its path, and any small sections merged into it)."""

    id: str
    source: str
    url: str
    title: str
    heading: str
    position: int
    body: str
    similarity: float
    sections: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchConfig:
    """How the three searches (text vectors, heading vectors, BM25) are fused.

    `rrf` and `weighted` are Milvus's rankers; `dense` takes the candidates of an RRF search
    and orders them by their best cosine similarity (text or heading), so BM25 finds
    candidates and breaks near ties but cannot outvote a clearly closer meaning. With
    `hub_penalty`, a candidate's order (not its similarity) is lowered by its hubness: its
    mean similarity to its `hub_neighbours` nearest chunks.
    """

    fusion: Fusion = "dense"
    rrf_k: int = 60
    dense_weight: float = 0.7
    ef: int = 512
    hub_penalty: float = 0.15
    hub_neighbours: int = 10
    latent_terms: bool = True
    """Whether a new collection stores each chunk's latent terms (for the rerank)."""


def content_hash(text: str) -> str:
    """A chunk's text, hashed: an answer that cited it is stale once a sync removes the
    chunk and no chunk of the same source has the same text (it did not merely move)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
