"""Fixed strings users see, in English and Japanese, chosen by the question's language."""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["Language", "detect_language", "message"]

Language = Literal["en", "ja"]

# Hiragana, Katakana, CJK ideographs and the half-width Katakana block.
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")

_MESSAGES: dict[str, dict[Language, str]] = {
    "dont_know": {
        "en": "I don't know: the documentation I have does not cover this.",
        "ja": "わかりません。手元のドキュメントにはこの内容が書かれていません。",
    },
    "searching": {
        "en": "Searching the docs…",
        "ja": "ドキュメントを検索しています…",
    },
    "extractive_intro": {
        "en": "No language model is configured, so here are the most relevant passages "
        "from the docs:",
        "ja": "言語モデルが設定されていないため、ドキュメントから関連する箇所を引用します:",
    },
    "empty_question": {
        "en": "Please ask a question: the message was empty.",
        "ja": "質問を入力してください。メッセージが空でした。",
    },
    "no_words": {
        "en": "Please ask a question in words: that message had only punctuation or symbols.",
        "ja": "質問を文章で入力してください。記号だけのメッセージでした。",
    },
    "question_too_long": {
        "en": "That question is too long ({length} characters; the limit is {limit}). "
        "Please shorten it.",
        "ja": "質問が長すぎます（{length}文字、上限は{limit}文字）。短くしてください。",
    },
    "retrieval_failed": {
        "en": "Sorry, I could not search the docs just now. Please try again in a moment.",
        "ja": "申し訳ありません。現在ドキュメントを検索できません。しばらくしてから再度お試しください。",
    },
    "model_failed": {
        "en": "Sorry, the language model did not answer. Please try again in a moment.",
        "ja": "申し訳ありません。言語モデルが応答しませんでした。しばらくしてから再度お試しください。",
    },
    "timeout": {
        "en": "Sorry, that took too long to answer. Please try again.",
        "ja": "申し訳ありません。回答に時間がかかりすぎました。もう一度お試しください。",
    },
    "reingest_needed": {
        "en": "The search index was built with a different embedding model; an admin needs "
        "to re-ingest the docs.",
        "ja": "検索インデックスは別の埋め込みモデルで作成されています。管理者による再取り込みが必要です。",
    },
    "not_ingested": {
        "en": "No documents have been ingested yet; an admin needs to run `helpbot ingest`.",
        "ja": "まだドキュメントが取り込まれていません。管理者が `helpbot ingest` を実行する必要があります。",
    },
    "not_enabled": {
        "en": "helpbot is not enabled here.",
        "ja": "helpbotはここでは有効になっていません。",
    },
    "cooldown": {
        "en": "Please wait {seconds} s before asking again.",
        "ja": "次の質問まで{seconds}秒お待ちください。",
    },
    "vote_up": {
        "en": "Thanks for the feedback!",
        "ja": "フィードバックありがとうございます！",
    },
    "vote_down": {
        "en": "Thanks, noted.",
        "ja": "ありがとうございます。記録しました。",
    },
    "vote_unknown": {
        "en": "That answer is no longer on record, so the vote was not counted.",
        "ja": "この回答は記録に残っていないため、投票は集計されませんでした。",
    },
    "internal_error": {
        "en": "Sorry, something went wrong while answering. Please try again.",
        "ja": "申し訳ありません。回答中にエラーが発生しました。もう一度お試しください。",
    },
}


def detect_language(text: str) -> Language:
    """Japanese when the text holds any kana or kanji, English otherwise."""
    return "ja" if _JAPANESE.search(text) else "en"


def message(key: str, lang: Language = "en", **values: object) -> str:
    """The fixed string `key` in `lang`, with `values` filled in."""
    return _MESSAGES[key][lang].format(**values)
