"""The asker's language picks the fixed strings: Chinese is its own language, not Japanese,
and anything unclear or without fixed strings yet is answered in English."""

from __future__ import annotations

import json

import pytest

from core.language import detect_language
from core.messages import _MESSAGES, message
from tests.support import PROJECT_ROOT, shared_dir


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("How is data stored in milvus?", "en"),
        ("Milvusのデータはどこに保存されますか？", "ja"),
        ("Milvus 的数据存储在哪里？", "zh"),
        ("怎么安装", "zh"),
        ("milvusとは", "ja"),
        ("컬렉션이 뭐예요?", "en"),  # Korean: no fixed strings yet
        ("Wie installiere ich Milvus?", "en"),
        ("HNSW?", "en"),  # too short to tell
    ],
)
def test_language_is_detected_with_english_when_unsure(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_every_labelled_chinese_and_japanese_question_is_told_apart() -> None:
    """On every question of the dev and held-out sets, Chinese and Japanese are never mixed
    up and English is never taken for either."""
    files = [
        PROJECT_ROOT / "bench" / "questions" / "milvus_docs_dev.jsonl",
        PROJECT_ROOT / "bench" / "questions" / "milvus_faq_heldout.jsonl",
        shared_dir() / "corpus" / "eval" / "milvus_faq_dev.jsonl",
    ]
    rows = [json.loads(line) for f in files if f.exists() for line in f.read_text().splitlines()]
    wrong = [
        (row["lang"], detect_language(row["question"]))
        for row in rows
        if row["lang"] in ("en", "ja", "zh") and detect_language(row["question"]) != row["lang"]
    ]
    assert len(rows) > 100 and wrong == []


def test_every_fixed_string_exists_in_every_language() -> None:
    missing = [
        (key, lang)
        for key, texts in _MESSAGES.items()
        for lang in ("en", "ja", "zh")
        if lang not in texts
    ]
    assert missing == []
    assert "5" in message("cooldown", "zh", seconds=5)
