"""An OpenAI-compatible /embeddings endpoint can replace the bundled model end to end."""

from __future__ import annotations

import pytest

from core.container import Helpbot
from core.errors import EmbeddingMismatchError, RetrievalError
from core.models import Query
from tests.standins.openai_server import OpenAIStandIn


async def test_ingest_and_answer_with_an_openai_compatible_embedder(
    make_settings, docs, tmp_path
) -> None:
    async with OpenAIStandIn() as server:
        settings = make_settings(
            embedding_cache_path=tmp_path / "own-cache.sqlite",  # every text goes to the server
            embedding_provider="openai",
            embedding_base_url=server.base_url,
            embedding_model="stand-in-embed",
            embedding_api_key="embed-key",
            embedding_query_prefix="query: ",
            embedding_passage_prefix="passage: ",
            relevance_threshold=-1.0,  # the stand-in's vectors carry no meaning
        )
        async with Helpbot(settings) as bot:
            report = await bot.ingestor.sync([docs], bot.ingest_options())
            answer = await bot.service.answer(Query("Backups"))
            assert await bot.store.embedding_model() == (
                "openai/stand-in-embed (query: 'query: ', passage: 'passage: ')",
                8,
            )
        embedded = [
            text
            for call in server.calls
            if call.path == "/v1/embeddings"
            for text in call.json["input"]
        ]
        assert report.chunks_added == 5 and answer.answered and answer.sources
        assert "query: Backups" in embedded
        passages = [t for t in embedded if not t.startswith("query: ")]
        assert len(passages) >= 5 and all(t.startswith("passage: ") for t in passages)
        assert all(call.headers["authorization"] == "Bearer embed-key" for call in server.calls)

    async with Helpbot(make_settings()) as bot:  # back to the bundled model: wrong vectors
        with pytest.raises(EmbeddingMismatchError, match="openai/stand-in-embed"):
            await bot.service.answer(Query("Backups"))


async def test_unreachable_embedding_endpoint_is_a_retrieval_error(make_settings, docs) -> None:
    settings = make_settings(
        embedding_provider="openai", embedding_base_url="http://127.0.0.1:9/v1", llm_max_retries=0
    )
    async with Helpbot(settings) as bot:
        with pytest.raises(RetrievalError, match="embedding endpoint failed: APIConnectionError"):
            await bot.ingestor.sync([docs], bot.ingest_options())
