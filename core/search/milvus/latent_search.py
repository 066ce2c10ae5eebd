"""The latent-terms cosine of a question with a few chunks: the rerank
(core/search/latent_terms.py) needs one number per candidate.

The candidates' stored terms are read by id and multiplied here, in the store's worker
thread. A Milvus search on the terms field restricted to those ids gives the same numbers,
but Milvus Lite's engine answers it by walking the posting list of every question term over
the whole collection in Python: about 45 ms of CPU a question on the whole Milvus docs,
against 3-6 ms for reading twenty rows (bench/question_cpu.py, docs/performance.md).
"""

from __future__ import annotations

from core.search.milvus.pymilvus_import import MilvusClient
from core.search.milvus.schema import LATENT_FIELD
from core.search.types import LatentTerms


def latent_closeness(
    client: MilvusClient, collection: str, question: LatentTerms, ids: list[str], timeout: float
) -> dict[str, float]:
    """Each chunk's inner product with the question's terms (both unit length: the
    cosine); a chunk that shares no term with the question is 0."""
    if not ids:  # no filter at all would read every chunk
        return {}
    rows = client.query(collection, ids=ids, output_fields=[LATENT_FIELD], timeout=timeout)
    return {row["id"]: _dot(question, row[LATENT_FIELD]) for row in rows}


def _dot(question: LatentTerms, chunk: dict[int, float]) -> float:
    return sum(weight * question.get(int(feature), 0.0) for feature, weight in chunk.items())
