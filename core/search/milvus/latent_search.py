"""The latent-terms cosine of a question with a few chunks, computed by Milvus: the rerank
(core/search/latent_terms.py) needs ten numbers, and decoding the ten chunks' stored terms
in Python instead held the GIL long enough to delay the event loop under load."""

from __future__ import annotations

from core.search.milvus.pymilvus_import import MilvusClient
from core.search.milvus.rows import literal
from core.search.milvus.schema import LATENT_FIELD
from core.search.types import LatentTerms


def latent_closeness(
    client: MilvusClient, collection: str, question: LatentTerms, ids: list[str], timeout: float
) -> dict[str, float]:
    """Each chunk's inner product with the question's terms (both unit length: the
    cosine); a chunk that shares no term with the question is missing (0)."""
    results = client.search(
        collection,
        data=[question],
        anns_field=LATENT_FIELD,
        search_params={"metric_type": "IP"},
        filter=f"id in [{', '.join(literal(i) for i in ids)}]",
        limit=len(ids),
        timeout=timeout,
    )
    return {row["id"]: float(row["distance"]) for row in results[0]}
