"""The asker's language picks the fixed strings and the language the model answers in:
Chinese is its own language, not Japanese; any language the detector is sure of is kept, and
anything unclear is answered in English."""

from __future__ import annotations

import json

import pytest

from core.language import detect_language, language_name
from core.messages import _MESSAGES, message
from tests.support import PROJECT_ROOT, shared_dir

# The languages the fixed strings must exist in (issue 17); any other gets English.
FIXED_STRING_LANGUAGES = ("en", "ja", "zh", "ko", "es", "fr", "de", "pt")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("How is data stored in milvus?", "en"),
        ("Milvusのデータはどこに保存されますか？", "ja"),
        ("Milvus 的数据存储在哪里？", "zh"),
        ("怎么安装", "zh"),
        ("milvusとは", "ja"),
        ("컬렉션이 뭐예요?", "ko"),
        ("Wie installiere ich Milvus?", "de"),
        ("¿Dónde guarda Milvus los datos?", "es"),
        ("Où Milvus stocke-t-il les données ?", "fr"),
        ("Onde o Milvus armazena os dados?", "pt"),
        ("Come posso eliminare una collezione in Milvus?", "it"),
        ("Как удалить коллекцию в Milvus?", "ru"),
        ("Milvus'u nasıl kurarım?", "tr"),
        ("Làm thế nào để cài đặt Milvus?", "vi"),
        ("HNSW?", "en"),  # too short to tell
    ],
)
def test_the_question_language_is_detected_with_english_when_unsure(
    text: str, expected: str
) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("docker compose 启动 milvus 报错", "zh"),
        ("milvus lite 支持 windows 吗", "zh"),
        ("如何 backup collection", "zh"),
        ("etcd 一直 pending", "zh"),
        ("如何設定資料庫的連線？", "zh"),  # traditional characters are Chinese too
        ("milvus lite は windows 対応？", "ja"),
        ("TLS 有効化", "ja"),
        ("attu 接続方法", "ja"),
        ("GPU対応？", "ja"),
        ("attu 로그인 안됨", "ko"),
        ("일본어 문서에 インデックス 라고 나오는데 인덱스랑 같은 건가요?", "ko"),
        ("韓国語のドキュメントにある 인덱스 はインデックスのことですか？", "ja"),
    ],
)
def test_a_short_cjk_question_full_of_english_terms_keeps_its_language(
    text: str, expected: str
) -> None:
    """Mostly Latin letters to the model, these were taken for English (or kanji for
    Chinese): the asker got English strings, and the question was not moved toward the
    docs' language."""
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Error: 连接 refused when connecting to the server on port 19530, what should I do?",
        "What does 向量 mean in the docs?",
        "Is 東京 region supported?",
        "The log shows ⚠️ 警告 and then the proxy restarts",
        "In the Japanese docs the page says インデックス, is that the same as an index?",
    ],
)
def test_an_english_question_quoting_a_cjk_word_stays_english(text: str) -> None:
    assert detect_language(text) == "en"


@pytest.mark.parametrize(
    "text",
    [
        "Describe aliases",
        "Sparse Vector (Beta)",
        "Tune consistency",
        "Restore data",
        "example question",
        "Attu login fails",
    ],
)
def test_a_short_english_phrase_of_technical_words_stays_english(text: str) -> None:
    """Each of these scores a little higher as Spanish, French or Italian than as English;
    answering them in another language would be worse than answering in English."""
    assert detect_language(text) == "en"


def test_every_labelled_question_is_detected_in_its_language() -> None:
    """On every question of the dev and held-out sets (English, Japanese, Chinese, Korean,
    Spanish, French, German, Portuguese), the detected language is the labelled one."""
    files = [
        PROJECT_ROOT / "bench" / "questions" / "milvus_docs_dev.jsonl",
        PROJECT_ROOT / "bench" / "questions" / "milvus_docs_heldout.jsonl",
        PROJECT_ROOT / "bench" / "questions" / "milvus_faq_heldout.jsonl",
        shared_dir() / "corpus" / "eval" / "milvus_faq_dev.jsonl",
    ]
    rows = [json.loads(line) for f in files if f.exists() for line in f.read_text().splitlines()]
    wrong = [
        (row["lang"], detect_language(row["question"]), row["question"])
        for row in rows
        if detect_language(row["question"]) != row["lang"]
    ]
    assert len(rows) > 100 and {row["lang"] for row in rows} >= set(FIXED_STRING_LANGUAGES)
    assert wrong == []


def test_every_fixed_string_exists_in_every_language_with_fixed_strings() -> None:
    missing = [
        (key, lang)
        for key, texts in _MESSAGES.items()
        for lang in FIXED_STRING_LANGUAGES
        if lang not in texts
    ]
    assert missing == []
    assert "5" in message("cooldown", "zh", seconds=5)
    assert "5" in message("cooldown", "ko", seconds=5)


def test_a_language_without_fixed_strings_gets_them_in_english() -> None:
    italian = detect_language("Come posso eliminare una collezione in Milvus?")
    assert message("dont_know", italian) == message("dont_know", "en")
    assert message("question_too_long", "it", length=9, limit=5) == message(
        "question_too_long", "en", length=9, limit=5
    )


def test_every_detected_language_has_a_name_for_the_model() -> None:
    assert language_name("ko") == "Korean"
    assert language_name("pt") == "Portuguese"
    assert language_name("it") == "Italian"
    assert language_name("xx") == "English"
