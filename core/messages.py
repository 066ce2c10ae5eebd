"""Fixed strings users see, chosen by the question's language: English, Japanese, Chinese
(simplified), Korean, Spanish, French, German and Portuguese; English for any other."""

from __future__ import annotations

from core.language import Language

__all__ = ["message"]

_MESSAGES: dict[str, dict[Language, str]] = {
    "dont_know": {
        "en": "I don't know: the documentation I have does not cover this.",
        "ja": "わかりません。手元のドキュメントにはこの内容が書かれていません。",
        "zh": "我不知道：我手上的文档没有涉及这个问题。",
        "ko": "모르겠습니다. 제가 가진 문서에는 이 내용이 없습니다.",
        "es": "No lo sé: la documentación que tengo no trata este tema.",
        "fr": "Je ne sais pas : la documentation dont je dispose ne traite pas de ce sujet.",
        "de": "Das weiß ich nicht: Die Dokumentation, die mir vorliegt, behandelt das nicht.",
        "pt": "Não sei: a documentação que tenho não aborda esse assunto.",
    },
    "searching": {
        "en": "Searching the docs…",
        "ja": "ドキュメントを検索しています…",
        "zh": "正在搜索文档…",
        "ko": "문서를 검색하고 있습니다…",
        "es": "Buscando en la documentación…",
        "fr": "Recherche dans la documentation…",
        "de": "Durchsuche die Dokumentation…",
        "pt": "Pesquisando na documentação…",
    },
    "extractive_intro": {
        "en": "No language model is configured, so here are the most relevant passages "
        "from the docs:",
        "ja": "言語モデルが設定されていないため、ドキュメントから関連する箇所を引用します:",
        "zh": "没有配置语言模型，以下是文档中最相关的段落：",
        "ko": "언어 모델이 설정되어 있지 않아 문서에서 가장 관련 있는 부분을 보여 드립니다:",
        "es": "No hay ningún modelo de lenguaje configurado, así que estos son los pasajes "
        "más relevantes de la documentación:",
        "fr": "Aucun modèle de langage n'est configuré ; voici donc les passages les plus "
        "pertinents de la documentation :",
        "de": "Es ist kein Sprachmodell konfiguriert, daher hier die passendsten Abschnitte "
        "aus der Dokumentation:",
        "pt": "Nenhum modelo de linguagem está configurado, então aqui estão os trechos mais "
        "relevantes da documentação:",
    },
    "unsure_intro": {
        "en": "I'm not sure these answer your question, but they are the closest passages "
        "in the docs:",
        "ja": "ご質問への答えになっているか自信がありませんが、ドキュメントで最も近い箇所です:",
        "zh": "我不确定这些内容能回答你的问题，但它们是文档中最接近的段落：",
        "ko": "질문에 대한 답인지 확실하지 않지만, 문서에서 가장 가까운 부분입니다:",
        "es": "No estoy seguro de que respondan a tu pregunta, pero son los pasajes más "
        "cercanos de la documentación:",
        "fr": "Je ne suis pas sûr que ces passages répondent à votre question, mais ce sont "
        "les plus proches dans la documentation :",
        "de": "Ich bin nicht sicher, ob diese Abschnitte Ihre Frage beantworten, aber sie "
        "kommen ihr in der Dokumentation am nächsten:",
        "pt": "Não tenho certeza de que estes trechos respondem à sua pergunta, mas são os "
        "mais próximos na documentação:",
    },
    "unsure_note": {
        "en": "I'm not sure this answers your question: the docs I found only partly match it.",
        "ja": "この回答で合っているか自信がありません。見つかったドキュメントは質問に一部しか合っていません。",
        "zh": "我不确定这是否回答了你的问题：找到的文档只部分相关。",
        "ko": "이 답변이 질문에 맞는지 확실하지 않습니다. 찾은 문서가 질문과 일부만 일치합니다.",
        "es": "No estoy seguro de que esto responda a tu pregunta: la documentación que "
        "encontré solo coincide en parte.",
        "fr": "Je ne suis pas sûr que cela réponde à votre question : les documents trouvés "
        "n'y correspondent qu'en partie.",
        "de": "Ich bin nicht sicher, ob das Ihre Frage beantwortet: Die gefundenen Dokumente "
        "passen nur teilweise dazu.",
        "pt": "Não tenho certeza de que isto responde à sua pergunta: os documentos que "
        "encontrei correspondem a ela só em parte.",
    },
    "empty_question": {
        "en": "Please ask a question: the message was empty.",
        "ja": "質問を入力してください。メッセージが空でした。",
        "zh": "请输入问题：消息是空的。",
        "ko": "질문을 입력해 주세요. 메시지가 비어 있습니다.",
        "es": "Haz una pregunta, por favor: el mensaje estaba vacío.",
        "fr": "Veuillez poser une question : le message était vide.",
        "de": "Bitte stellen Sie eine Frage: Die Nachricht war leer.",
        "pt": "Faça uma pergunta, por favor: a mensagem estava vazia.",
    },
    "no_words": {
        "en": "Please ask a question in words: that message had only punctuation or symbols.",
        "ja": "質問を文章で入力してください。記号だけのメッセージでした。",
        "zh": "请用文字提问：这条消息只有标点或符号。",
        "ko": "질문을 글로 입력해 주세요. 메시지에 문장 부호나 기호만 있었습니다.",
        "es": "Escribe la pregunta con palabras, por favor: ese mensaje solo tenía signos "
        "de puntuación o símbolos.",
        "fr": "Veuillez poser votre question avec des mots : ce message ne contenait que de "
        "la ponctuation ou des symboles.",
        "de": "Bitte stellen Sie Ihre Frage in Worten: Die Nachricht enthielt nur Satz- oder "
        "Sonderzeichen.",
        "pt": "Escreva a pergunta com palavras, por favor: a mensagem tinha apenas pontuação "
        "ou símbolos.",
    },
    "question_too_long": {
        "en": "That question is too long ({length} characters; the limit is {limit}). "
        "Please shorten it.",
        "ja": "質問が長すぎます（{length}文字、上限は{limit}文字）。短くしてください。",
        "zh": "问题太长了（{length} 个字符，上限为 {limit}）。请缩短后再问。",
        "ko": "질문이 너무 깁니다({length}자, 최대 {limit}자). 줄여서 다시 질문해 주세요.",
        "es": "La pregunta es demasiado larga ({length} caracteres; el límite es {limit}). "
        "Acórtala, por favor.",
        "fr": "Cette question est trop longue ({length} caractères ; la limite est de "
        "{limit}). Veuillez la raccourcir.",
        "de": "Die Frage ist zu lang ({length} Zeichen; erlaubt sind {limit}). Bitte kürzen "
        "Sie sie.",
        "pt": "A pergunta é longa demais ({length} caracteres; o limite é {limit}). "
        "Encurte-a, por favor.",
    },
    "retrieval_failed": {
        "en": "Sorry, I could not search the docs just now. Please try again in a moment.",
        "ja": "申し訳ありません。現在ドキュメントを検索できません。しばらくしてから再度お試しください。",
        "zh": "抱歉，暂时无法搜索文档。请稍后再试。",
        "ko": "죄송합니다. 지금은 문서를 검색할 수 없습니다. 잠시 후 다시 시도해 주세요.",
        "es": "Lo siento, ahora mismo no puedo buscar en la documentación. Inténtalo de "
        "nuevo en un momento.",
        "fr": "Désolé, je ne peux pas consulter la documentation pour le moment. Veuillez "
        "réessayer dans un instant.",
        "de": "Entschuldigung, die Dokumentation lässt sich gerade nicht durchsuchen. Bitte "
        "versuchen Sie es gleich noch einmal.",
        "pt": "Desculpe, não consegui pesquisar a documentação agora. Tente novamente em "
        "instantes.",
    },
    "model_failed": {
        "en": "Sorry, the language model did not answer. Please try again in a moment.",
        "ja": "申し訳ありません。言語モデルが応答しませんでした。しばらくしてから再度お試しください。",
        "zh": "抱歉，语言模型没有响应。请稍后再试。",
        "ko": "죄송합니다. 언어 모델이 응답하지 않았습니다. 잠시 후 다시 시도해 주세요.",
        "es": "Lo siento, el modelo de lenguaje no respondió. Inténtalo de nuevo en un momento.",
        "fr": "Désolé, le modèle de langage n'a pas répondu. Veuillez réessayer dans un instant.",
        "de": "Entschuldigung, das Sprachmodell hat nicht geantwortet. Bitte versuchen Sie es "
        "gleich noch einmal.",
        "pt": "Desculpe, o modelo de linguagem não respondeu. Tente novamente em instantes.",
    },
    "timeout": {
        "en": "Sorry, that took too long to answer. Please try again.",
        "ja": "申し訳ありません。回答に時間がかかりすぎました。もう一度お試しください。",
        "zh": "抱歉，回答耗时过长。请再试一次。",
        "ko": "죄송합니다. 답변하는 데 시간이 너무 오래 걸렸습니다. 다시 시도해 주세요.",
        "es": "Lo siento, la respuesta tardó demasiado. Inténtalo de nuevo.",
        "fr": "Désolé, la réponse a pris trop de temps. Veuillez réessayer.",
        "de": "Entschuldigung, die Antwort hat zu lange gedauert. Bitte versuchen Sie es noch "
        "einmal.",
        "pt": "Desculpe, a resposta demorou demais. Tente novamente.",
    },
    "reingest_needed": {
        "en": "The search index was built with a different embedding model or older chunking "
        "rules; an admin needs to re-ingest the docs.",
        "ja": "検索インデックスは別の埋め込みモデルまたは古い分割ルールで作成されています。管理者による再取り込みが必要です。",
        "zh": "搜索索引是用其他嵌入模型或旧的切分规则建立的；需要管理员重新导入文档。",
        "ko": "검색 색인이 다른 임베딩 모델이나 이전 분할 규칙으로 만들어졌습니다. 관리자가 문서를 다시 가져와야 합니다.",
        "es": "El índice de búsqueda se creó con otro modelo de embeddings o con reglas de "
        "fragmentación anteriores; un administrador tiene que volver a importar la "
        "documentación.",
        "fr": "L'index de recherche a été créé avec un autre modèle d'embeddings ou "
        "d'anciennes règles de découpage ; un administrateur doit réimporter la "
        "documentation.",
        "de": "Der Suchindex wurde mit einem anderen Embedding-Modell oder älteren "
        "Aufteilungsregeln erstellt; ein Admin muss die Dokumentation neu einlesen.",
        "pt": "O índice de busca foi criado com outro modelo de embeddings ou com regras de "
        "divisão antigas; um administrador precisa importar a documentação de novo.",
    },
    "not_ingested": {
        "en": "No documents have been ingested yet; an admin needs to run `helpbot ingest`.",
        "ja": "まだドキュメントが取り込まれていません。管理者が `helpbot ingest` を実行する必要があります。",
        "zh": "还没有导入任何文档；需要管理员运行 `helpbot ingest`。",
        "ko": "아직 가져온 문서가 없습니다. 관리자가 `helpbot ingest`를 실행해야 합니다.",
        "es": "Todavía no se ha importado ningún documento; un administrador tiene que "
        "ejecutar `helpbot ingest`.",
        "fr": "Aucun document n'a encore été importé ; un administrateur doit lancer "
        "`helpbot ingest`.",
        "de": "Es wurden noch keine Dokumente eingelesen; ein Admin muss `helpbot ingest` "
        "ausführen.",
        "pt": "Nenhum documento foi importado ainda; um administrador precisa executar "
        "`helpbot ingest`.",
    },
    "not_enabled": {
        "en": "helpbot is not enabled here.",
        "ja": "helpbotはここでは有効になっていません。",
        "zh": "helpbot 在这里未启用。",
        "ko": "이곳에서는 helpbot이 활성화되어 있지 않습니다.",
        "es": "helpbot no está activado aquí.",
        "fr": "helpbot n'est pas activé ici.",
        "de": "helpbot ist hier nicht aktiviert.",
        "pt": "O helpbot não está ativado aqui.",
    },
    "cooldown": {
        "en": "Please wait {seconds} s before asking again.",
        "ja": "次の質問まで{seconds}秒お待ちください。",
        "zh": "请等待 {seconds} 秒后再提问。",
        "ko": "{seconds}초 후에 다시 질문해 주세요.",
        "es": "Espera {seconds} s antes de volver a preguntar.",
        "fr": "Veuillez patienter {seconds} s avant de poser une nouvelle question.",
        "de": "Bitte warten Sie {seconds} s, bevor Sie erneut fragen.",
        "pt": "Aguarde {seconds} s antes de perguntar de novo.",
    },
    "restarting": {
        "en": "I'm restarting and can't answer this one. Please ask again in a minute.",
        "ja": "再起動中のため、この質問にはお答えできません。1分後にもう一度お尋ねください。",
        "zh": "我正在重启，无法回答这个问题。请一分钟后再问一次。",
        "ko": "재시작 중이라 이 질문에 답할 수 없습니다. 1분 후에 다시 질문해 주세요.",
        "es": "Me estoy reiniciando y no puedo responder a esta pregunta. Vuelve a preguntar en un minuto.",
        "fr": "Je redémarre et ne peux pas répondre à cette question. Reposez-la dans une minute.",
        "de": "Ich starte gerade neu und kann diese Frage nicht beantworten. Bitte fragen Sie in einer Minute erneut.",
        "pt": "Estou reiniciando e não posso responder a esta pergunta. Pergunte de novo em um minuto.",
    },
    "vote_up": {
        "en": "Thanks for the feedback!",
        "ja": "フィードバックありがとうございます！",
        "zh": "感谢反馈！",
        "ko": "피드백 감사합니다!",
        "es": "¡Gracias por tu opinión!",
        "fr": "Merci pour votre retour !",
        "de": "Danke für das Feedback!",
        "pt": "Obrigado pelo feedback!",
    },
    "vote_down": {
        "en": "Thanks, noted.",
        "ja": "ありがとうございます。記録しました。",
        "zh": "谢谢，已记录。",
        "ko": "감사합니다. 기록했습니다.",
        "es": "Gracias, queda anotado.",
        "fr": "Merci, c'est noté.",
        "de": "Danke, ist notiert.",
        "pt": "Obrigado, anotado.",
    },
    "vote_unknown": {
        "en": "That answer is no longer on record, so the vote was not counted.",
        "ja": "この回答は記録に残っていないため、投票は集計されませんでした。",
        "zh": "这条回答已不在记录中，所以这次投票没有计入。",
        "ko": "이 답변은 더 이상 기록에 없어서 투표가 반영되지 않았습니다.",
        "es": "Esa respuesta ya no está registrada, así que el voto no se ha contado.",
        "fr": "Cette réponse n'est plus enregistrée : le vote n'a pas été pris en compte.",
        "de": "Diese Antwort ist nicht mehr gespeichert, daher wurde die Stimme nicht gezählt.",
        "pt": "Essa resposta não está mais registrada, então o voto não foi contado.",
    },
    "internal_error": {
        "en": "Sorry, something went wrong while answering. Please try again.",
        "ja": "申し訳ありません。回答中にエラーが発生しました。もう一度お試しください。",
        "zh": "抱歉，回答时出错了。请再试一次。",
        "ko": "죄송합니다. 답변하는 중에 문제가 발생했습니다. 다시 시도해 주세요.",
        "es": "Lo siento, algo salió mal al responder. Inténtalo de nuevo.",
        "fr": "Désolé, une erreur s'est produite pendant la réponse. Veuillez réessayer.",
        "de": "Entschuldigung, beim Antworten ist etwas schiefgelaufen. Bitte versuchen Sie es "
        "noch einmal.",
        "pt": "Desculpe, algo deu errado ao responder. Tente novamente.",
    },
    "down_reason_prompt": {
        "en": "Thanks, noted. What was wrong with it? (optional)",
        "ja": "ありがとうございます。記録しました。どこが良くなかったですか？（任意）",
        "zh": "谢谢，已记录。哪里有问题？（可选）",
        "ko": "감사합니다. 기록했습니다. 무엇이 문제였나요? (선택)",
        "es": "Gracias, anotado. ¿Qué estaba mal? (opcional)",
        "fr": "Merci, c'est noté. Qu'est-ce qui n'allait pas ? (facultatif)",
        "de": "Danke, notiert. Was war daran falsch? (optional)",
        "pt": "Obrigado, anotado. O que estava errado? (opcional)",
    },
    "reason_wrong": {
        "en": "Wrong",
        "ja": "間違っている",
        "zh": "不正确",
        "ko": "틀림",
        "es": "Incorrecta",
        "fr": "Fausse",
        "de": "Falsch",
        "pt": "Errada",
    },
    "reason_outdated": {
        "en": "Outdated",
        "ja": "古い",
        "zh": "已过时",
        "ko": "오래됨",
        "es": "Desactualizada",
        "fr": "Obsolète",
        "de": "Veraltet",
        "pt": "Desatualizada",
    },
    "reason_not_asked": {
        "en": "Not what I asked",
        "ja": "質問と違う",
        "zh": "答非所问",
        "ko": "질문과 다름",
        "es": "No es lo que pregunté",
        "fr": "Pas ce que j'ai demandé",
        "de": "Nicht meine Frage",
        "pt": "Não era o que perguntei",
    },
    "reason_other": {
        "en": "Other",
        "ja": "その他",
        "zh": "其他",
        "ko": "기타",
        "es": "Otro",
        "fr": "Autre",
        "de": "Anderes",
        "pt": "Outro",
    },
    "reason_thanks": {
        "en": "Thanks, that helps us fix the docs.",
        "ja": "ありがとうございます。ドキュメントの改善に役立てます。",
        "zh": "谢谢，这有助于我们改进文档。",
        "ko": "감사합니다. 문서를 고치는 데 도움이 됩니다.",
        "es": "Gracias, nos ayuda a mejorar la documentación.",
        "fr": "Merci, cela nous aide à corriger la documentation.",
        "de": "Danke, das hilft uns, die Dokumentation zu verbessern.",
        "pt": "Obrigado, isso nos ajuda a corrigir a documentação.",
    },
    "stale_notice": {
        "en": "Heads-up: the section I quoted in this answer, {section}, has changed since. "
        "Please check the current version{link}.",
        "ja": "お知らせ: この回答で引用した「{section}」はその後更新されました。"
        "最新の内容をご確認ください{link}。",
        "zh": "提示：我在这个回答中引用的「{section}」已经更新，请查看最新版本{link}。",
        "ko": "알림: 이 답변에서 인용한 {section} 섹션이 그 후 변경되었습니다. "
        "최신 내용을 확인해 주세요{link}.",
        "es": "Aviso: la sección que cité en esta respuesta, {section}, ha cambiado desde "
        "entonces. Consulta la versión actual{link}.",
        "fr": "À noter : la section citée dans cette réponse, {section}, a changé depuis. "
        "Consultez la version actuelle{link}.",
        "de": "Hinweis: Der Abschnitt, den ich in dieser Antwort zitiert habe, {section}, hat "
        "sich seitdem geändert. Bitte sehen Sie in der aktuellen Fassung nach{link}.",
        "pt": "Aviso: a seção que citei nesta resposta, {section}, mudou desde então. "
        "Confira a versão atual{link}.",
    },
}


def message(key: str, lang: Language = "en", **values: object) -> str:
    """The fixed string `key` in `lang`, with `values` filled in; English for a language
    without fixed strings."""
    texts = _MESSAGES[key]
    return texts.get(lang, texts["en"]).format(**values)
