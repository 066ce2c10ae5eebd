"""Which language a question is written in, so fixed strings and answers follow the asker.

py3langid's model ships inside its wheel (no download) and runs in well under a millisecond.
It chooses among the widely written languages below, not all of its own: on short text the
full model guesses rare ones (Portuguese taken for Sesotho, Italian for Latin). When it is not
confident, English is assumed."""

from __future__ import annotations

import functools

from py3langid.langid import MODEL_FILE, LanguageIdentifier

__all__ = ["Language", "detect_language", "language_name"]

Language = str
"""An ISO 639-1 code ("en", "ko", "pt"): the language a question is written in."""

# The candidates the detector chooses among, with the English names the model is told to
# answer in. Chosen on the labelled questions in bench/questions and the headings of the Milvus
# docs: adding the smaller Latin-script languages (Estonian, Tagalog, Slovak, Croatian,
# Galician) made short questions in the big ones come out as them.
_NAMES: dict[Language, str] = {
    "en": "English",
    "ja": "Japanese",
    "zh": "Chinese",
    "ko": "Korean",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "pt": "Portuguese",
    "it": "Italian",
    "nl": "Dutch",
    "pl": "Polish",
    "tr": "Turkish",
    "vi": "Vietnamese",
    "id": "Indonesian",
    "ms": "Malay",
    "sv": "Swedish",
    "da": "Danish",
    "no": "Norwegian",
    "fi": "Finnish",
    "cs": "Czech",
    "ro": "Romanian",
    "hu": "Hungarian",
    "el": "Greek",
    "ru": "Russian",
    "uk": "Ukrainian",
    "bg": "Bulgarian",
    "ar": "Arabic",
    "he": "Hebrew",
    "fa": "Persian",
    "ur": "Urdu",
    "hi": "Hindi",
    "mr": "Marathi",
    "bn": "Bengali",
    "ta": "Tamil",
    "te": "Telugu",
    "ml": "Malayalam",
    "th": "Thai",
    "ka": "Georgian",
    "hy": "Armenian",
}
_MIN_CONFIDENCE = 0.5
# Another language is chosen only when it is this many times likelier than English: a short
# English phrase of technical words ("Describe aliases", "Sparse Vector (Beta)") often scores
# a little higher as Spanish or French, never ten times higher.
_ENGLISH_MARGIN = 10.0


@functools.cache
def _identifier() -> LanguageIdentifier:
    """Loaded once, on first use (about a second): the model is read from the wheel."""
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(_NAMES))
    return identifier


def load_language_model() -> None:
    """Read the model now (blocking, about a second), so the first question does not wait
    for it on the event loop; the composition root runs it in a worker thread."""
    _identifier()


def detect_language(text: str) -> Language:
    """The question's language when the detector is confident of it; English when it is
    unsure (a short, mixed or mostly technical message)."""
    ranked = _identifier().rank(text)
    code, confidence = ranked[0]
    english = dict(ranked)["en"]
    if confidence < _MIN_CONFIDENCE or confidence < _ENGLISH_MARGIN * english:
        return "en"
    return str(code)


def language_name(language: Language) -> str:
    """The language's English name, to tell the model what to write in; English for a code
    the detector never returns."""
    return _NAMES.get(language, _NAMES["en"])
