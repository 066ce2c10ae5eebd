"""Which language a question is written in, so fixed strings and answers follow the asker.

py3langid's model ships inside its wheel (no download), runs in well under a millisecond, and
is restricted here to the languages a docs team is likely to write in: on short text the full
model's 97 languages guess rare ones. When it is not confident, English is assumed."""

from __future__ import annotations

import functools
from typing import Literal, get_args

from py3langid.langid import MODEL_FILE, LanguageIdentifier

__all__ = ["Language", "detect_language"]

Language = Literal["en", "ja", "zh"]
"""The languages helpbot has fixed strings in; any other is answered in English for now."""

SUPPORTED: tuple[Language, ...] = get_args(Language)
# The candidates the detector chooses among (ISO 639-1): those with fixed strings and the
# languages most often seen beside them, so that, say, Korean is not taken for Japanese.
_CANDIDATES = [
    *SUPPORTED,
    "ko",
    "de",
    "es",
    "fr",
    "pt",
    "it",
    "ru",
    "nl",
    "pl",
    "tr",
    "vi",
    "id",
    "th",
    "ar",
    "hi",
    "uk",
    "sv",
    "cs",
    "he",
    "fa",
]
_MIN_CONFIDENCE = 0.5


@functools.cache
def _identifier() -> LanguageIdentifier:
    """Loaded once, on first use (about a second): the model is read from the wheel."""
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(_CANDIDATES)
    return identifier


def load_language_model() -> None:
    """Read the model now (blocking, about a second), so the first question does not wait
    for it on the event loop; the composition root runs it in a worker thread."""
    _identifier()


def detect_language(text: str) -> Language:
    """The question's language among those with fixed strings; English when it is another
    language or the detector is unsure (a short or mixed message)."""
    code, confidence = _identifier().classify(text)
    if confidence < _MIN_CONFIDENCE:
        return "en"
    return code if code in SUPPORTED else "en"
