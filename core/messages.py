"""Fixed strings users see, in English, Japanese and Chinese, chosen by the question's
language."""

from __future__ import annotations

from core.language import Language

__all__ = ["message"]

_MESSAGES: dict[str, dict[Language, str]] = {
    "dont_know": {
        "en": "I don't know: the documentation I have does not cover this.",
        "ja": "わかりません。手元のドキュメントにはこの内容が書かれていません。",
        "zh": "我不知道：我手上的文档没有涉及这个问题。",
    },
    "searching": {
        "en": "Searching the docs…",
        "ja": "ドキュメントを検索しています…",
        "zh": "正在搜索文档…",
    },
    "extractive_intro": {
        "en": "No language model is configured, so here are the most relevant passages "
        "from the docs:",
        "ja": "言語モデルが設定されていないため、ドキュメントから関連する箇所を引用します:",
        "zh": "没有配置语言模型，以下是文档中最相关的段落：",
    },
    "unsure_intro": {
        "en": "I'm not sure these answer your question, but they are the closest passages "
        "in the docs:",
        "ja": "ご質問への答えになっているか自信がありませんが、ドキュメントで最も近い箇所です:",
        "zh": "我不确定这些内容能回答你的问题，但它们是文档中最接近的段落：",
    },
    "unsure_note": {
        "en": "I'm not sure this answers your question: the docs I found only partly match it.",
        "ja": "この回答で合っているか自信がありません。見つかったドキュメントは質問に一部しか合っていません。",
        "zh": "我不确定这是否回答了你的问题：找到的文档只部分相关。",
    },
    "empty_question": {
        "en": "Please ask a question: the message was empty.",
        "ja": "質問を入力してください。メッセージが空でした。",
        "zh": "请输入问题：消息是空的。",
    },
    "no_words": {
        "en": "Please ask a question in words: that message had only punctuation or symbols.",
        "ja": "質問を文章で入力してください。記号だけのメッセージでした。",
        "zh": "请用文字提问：这条消息只有标点或符号。",
    },
    "question_too_long": {
        "en": "That question is too long ({length} characters; the limit is {limit}). "
        "Please shorten it.",
        "ja": "質問が長すぎます（{length}文字、上限は{limit}文字）。短くしてください。",
        "zh": "问题太长了（{length} 个字符，上限为 {limit}）。请缩短后再问。",
    },
    "retrieval_failed": {
        "en": "Sorry, I could not search the docs just now. Please try again in a moment.",
        "ja": "申し訳ありません。現在ドキュメントを検索できません。しばらくしてから再度お試しください。",
        "zh": "抱歉，暂时无法搜索文档。请稍后再试。",
    },
    "model_failed": {
        "en": "Sorry, the language model did not answer. Please try again in a moment.",
        "ja": "申し訳ありません。言語モデルが応答しませんでした。しばらくしてから再度お試しください。",
        "zh": "抱歉，语言模型没有响应。请稍后再试。",
    },
    "timeout": {
        "en": "Sorry, that took too long to answer. Please try again.",
        "ja": "申し訳ありません。回答に時間がかかりすぎました。もう一度お試しください。",
        "zh": "抱歉，回答耗时过长。请再试一次。",
    },
    "reingest_needed": {
        "en": "The search index was built with a different embedding model or older chunking "
        "rules; an admin needs to re-ingest the docs.",
        "ja": "検索インデックスは別の埋め込みモデルまたは古い分割ルールで作成されています。管理者による再取り込みが必要です。",
        "zh": "搜索索引是用其他嵌入模型或旧的切分规则建立的；需要管理员重新导入文档。",
    },
    "not_ingested": {
        "en": "No documents have been ingested yet; an admin needs to run `helpbot ingest`.",
        "ja": "まだドキュメントが取り込まれていません。管理者が `helpbot ingest` を実行する必要があります。",
        "zh": "还没有导入任何文档；需要管理员运行 `helpbot ingest`。",
    },
    "not_enabled": {
        "en": "helpbot is not enabled here.",
        "ja": "helpbotはここでは有効になっていません。",
        "zh": "helpbot 在这里未启用。",
    },
    "cooldown": {
        "en": "Please wait {seconds} s before asking again.",
        "ja": "次の質問まで{seconds}秒お待ちください。",
        "zh": "请等待 {seconds} 秒后再提问。",
    },
    "vote_up": {
        "en": "Thanks for the feedback!",
        "ja": "フィードバックありがとうございます！",
        "zh": "感谢反馈！",
    },
    "vote_down": {
        "en": "Thanks, noted.",
        "ja": "ありがとうございます。記録しました。",
        "zh": "谢谢，已记录。",
    },
    "vote_unknown": {
        "en": "That answer is no longer on record, so the vote was not counted.",
        "ja": "この回答は記録に残っていないため、投票は集計されませんでした。",
        "zh": "这条回答已不在记录中，所以这次投票没有计入。",
    },
    "internal_error": {
        "en": "Sorry, something went wrong while answering. Please try again.",
        "ja": "申し訳ありません。回答中にエラーが発生しました。もう一度お試しください。",
        "zh": "抱歉，回答时出错了。请再试一次。",
    },
}


def message(key: str, lang: Language = "en", **values: object) -> str:
    """The fixed string `key` in `lang`, with `values` filled in."""
    return _MESSAGES[key][lang].format(**values)
