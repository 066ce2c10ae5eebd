"""Which language a question is written in, so fixed strings and answers follow the asker.

py3langid's model ships inside its wheel (no download) and runs in well under a millisecond.
It chooses among the widely written languages below, not all of its own: on short text the
full model guesses rare ones (Portuguese taken for Sesotho, Italian for Latin). When it is not
confident, English is assumed.

Chinese, Japanese and Korean are told apart by their scripts first: a short question that
mixes English product names with a few CJK words ("milvus lite 支持 windows 吗", "TLS 有効化")
is mostly Latin letters to the model, which took such questions for English, or Japanese
kanji for Chinese."""

from __future__ import annotations

import functools
import re

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


_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9d]")
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")
_MIN_CJK = 2


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
    by_script = _by_script(text)
    if by_script:
        return by_script
    ranked = _identifier().rank(text)
    code, confidence = ranked[0]
    english = dict(ranked)["en"]
    if confidence < _MIN_CONFIDENCE or confidence < _ENGLISH_MARGIN * english:
        return "en"
    return str(code)


def _by_script(text: str) -> Language | None:
    """For text written mostly in CJK (at least as many CJK characters as Latin words: an
    English sentence quoting "连接" stays with the model), Korean for mostly Hangul, Japanese
    for any kana, and for Chinese characters alone, which writing their forms belong to;
    None for any other text."""
    kana, hangul, han = (pattern.findall(text) for pattern in (_KANA, _HANGUL, _HAN))
    cjk = len(kana) + len(hangul) + len(han)
    if cjk < max(_MIN_CJK, len(_LATIN_WORD.findall(text))):
        return None
    if len(hangul) > len(kana):  # Korean, even quoting a Japanese word
        return "ko"
    if kana:
        return "ja"
    forms = [_written_in(character) for character in han]
    japanese, chinese = forms.count("ja"), forms.count("zh")
    if japanese != chinese:
        return "ja" if japanese > chinese else "zh"
    likely = dict(_identifier().rank("".join(han)))
    return "ja" if likely["ja"] > likely["zh"] else "zh"


def _written_in(character: str) -> Language | None:
    """Japanese for a kanji only Japanese writes so (対, 続, 効, 検: in Shift JIS, in
    neither simplified (GB 2312) nor traditional (Big5) Chinese), Chinese for a character
    Chinese writes and Japanese does not (启, 报, 错; 對, 續), None otherwise."""
    japanese = _encodes(character, "shift_jis")
    chinese = _encodes(character, "gb2312") or _encodes(character, "big5")
    if japanese == chinese:
        return None
    return "ja" if japanese else "zh"


def _encodes(character: str, codec: str) -> bool:
    try:
        character.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def language_name(language: Language) -> str:
    """The language's English name, to tell the model what to write in; English for a code
    the detector never returns."""
    return _NAMES.get(language, _NAMES["en"])
