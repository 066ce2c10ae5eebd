"""RagService: question in, answer with numbered sources out, streamed or whole."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from core.answering.docs_language import AUTO, DocsLanguages
from core.answering.excerpts import extractive_answer, one_per_section, to_source
from core.answering.llm import ChatModel
from core.answering.prompts import (
    NO_ANSWER,
    UNSURE,
    answer_messages,
    condense_messages,
    fit_context,
    format_documents,
    recent_history,
)
from core.errors import AnswerTimeoutError, BadInputError, HelpbotError, ModelError
from core.language import Language, detect_language
from core.messages import message
from core.models import Answer, Mode, Query, Readiness, Source, Timings, TokenUsage, Turn
from core.search.embeddings import Embedder
from core.search.language_offsets import LanguageOffsets
from core.search.latent_terms import LatentReader, rerank
from core.search.milvus.store import MilvusStore
from core.search.types import RERANK_DEPTH, Hit, LatentTerms

__all__ = ["RagService", "Retrieval", "ServiceConfig", "StreamEvent"]

log = logging.getLogger(__name__)

T = TypeVar("T")
StreamEvent = str | Answer

_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_EXTRACTIVE_PASSAGES = 3
_GAP_RANK = 5
# What `_generate` yields for the model's markers (compared by identity, never shown).
_REFUSED = "\0refused"
_HEDGED = "\0hedged"


@dataclass(frozen=True)
class ServiceConfig:
    """The answering knobs, taken from `Settings` by the composition root."""

    top_k: int = 5
    relevance_threshold: float = 0.84
    relevance_min_gap: float = 0.0
    unsure_below: float = 0.865
    max_context_chars: int = 8000
    history_turns: int = 3
    history_max_chars: int = 6000
    max_question_chars: int = 2000
    deadline_s: float = 60.0
    default_knowledge_base: str = "default"
    docs_language: str = AUTO
    rerank_depth: int = RERANK_DEPTH


@dataclass(frozen=True)
class Retrieval:
    """What a search found: ranked hits (one per section), the relevant ones, whether the
    best of them is only a weak match (`unsure`), and what it cost."""

    hits: tuple[Hit, ...]
    relevant: tuple[Hit, ...]
    embed_ms: float
    search_ms: float
    unsure: bool = False


class RagService:
    """Retrieve, decide whether the docs cover the question, then generate or quote."""

    def __init__(
        self,
        embedder: Embedder,
        store: MilvusStore,
        chat: ChatModel | None,
        config: ServiceConfig,
        offsets: LanguageOffsets | None = None,
        latent: LatentReader | None = None,
    ) -> None:
        """`offsets`: the embedding model's language means; with them a question in another
        language than the docs is moved toward the docs' language before the search.
        `latent`: what reads a question's latent terms; with it, and a collection that keeps
        its chunks' terms, the closest sections are reranked (core/search/latent_terms.py)."""
        self._embedder = embedder
        self._latent = latent
        self._offsets = offsets
        self._docs_languages = DocsLanguages(store, config.docs_language)
        self._store = store
        self._chat = chat
        self._config = config
        self._opened = False
        self._opening = asyncio.Lock()

    @property
    def default_knowledge_base(self) -> str:
        """What a question searches when its query names no knowledge base."""
        return self._config.default_knowledge_base

    @property
    def mode(self) -> Mode:
        """Generative with a chat model, extractive (quoted passages) without."""
        return "generative" if self._chat else "extractive"

    async def answer(self, query: Query) -> Answer:
        """The whole answer at once (the stream, consumed)."""
        async for event in self.stream(query):
            if isinstance(event, Answer):
                return event
        raise AssertionError("stream ended without an Answer")

    async def stream(self, query: Query) -> AsyncIterator[StreamEvent]:
        """Text deltas as they are produced, then exactly one complete `Answer`.

        Raises a `HelpbotError` on bad input, retrieval or model failure, or when the
        overall deadline passes; adapters turn it into a friendly reply.
        """
        started = time.perf_counter()
        text = self._validate(query.text)
        language = detect_language(text)
        deadline = asyncio.get_running_loop().time() + self._config.deadline_s
        retrieval = await self._retrieve(query, text, self._config.top_k, deadline)
        relevant = list(retrieval.relevant)
        generate_start = time.perf_counter()

        sources: tuple[Source, ...] = ()
        unsure = retrieval.unsure
        usage: TokenUsage | None = None
        if not relevant:
            reply, answered = message("dont_know", language), False
            yield reply
        elif self._chat is None:
            passages = relevant[:_EXTRACTIVE_PASSAGES]
            reply, sources = extractive_answer(passages, language, unsure)
            answered = True
            yield reply
        else:
            included = fit_context(relevant, self._config.max_context_chars)
            parts: list[str] = []
            answered = True
            async for delta in self._generate(
                self._chat, text, query, included, language, deadline
            ):
                if delta is _REFUSED:
                    answered = False
                    parts = [message("dont_know", language)]
                    yield parts[0]
                    break
                if delta is _HEDGED:
                    unsure = True
                    continue
                if isinstance(delta, TokenUsage):
                    usage = delta
                    continue
                if unsure and not parts:
                    # The warning goes out with the first words of an answer, never before
                    # a refusal that would leave it standing above "I don't know".
                    parts.append(message("unsure_note", language) + "\n\n")
                    yield parts[0]
                parts.append(delta)
                yield delta
            reply = "".join(parts)
            sources = _cited_sources(reply, included) if answered else ()

        finished = time.perf_counter()
        yield Answer(
            text=reply,
            answered=answered,
            mode="generative" if self._chat else "extractive",
            sources=sources,
            timings=Timings(
                embed_ms=retrieval.embed_ms,
                search_ms=retrieval.search_ms,
                generate_ms=_ms(generate_start, finished),
                total_ms=_ms(started, finished),
            ),
            language=language,
            unsure=answered and unsure,
            best_similarity=max((h.similarity for h in retrieval.hits), default=None),
            margin=_gap(retrieval.hits),
            usage=usage,
        )

    async def readiness(self) -> Readiness:
        """Whether a question asked now could be answered: the collection opens (on the
        first check, as the first question would) and is loaded. Extractive mode needs no
        LLM, so the model is reported, not probed."""
        checks: dict[str, str] = {"answers": self.mode}
        try:
            await self._open_store()
            loaded = await self._store.is_loaded()
        except HelpbotError as exc:
            checks["milvus"] = str(exc)
            return Readiness(False, checks)
        checks["milvus"] = "ok" if loaded else "the collection is not loaded"
        return Readiness(loaded, checks)

    async def retrieve(self, query: Query, limit: int | None = None) -> Retrieval:
        """Search only: the ranked chunks and those relevant enough to answer from.

        This is the deterministic half of `stream`; evaluation measures it directly.
        """
        text = self._validate(query.text)
        deadline = asyncio.get_running_loop().time() + self._config.deadline_s
        return await self._retrieve(query, text, limit or self._config.top_k, deadline)

    async def _retrieve(self, query: Query, text: str, limit: int, deadline: float) -> Retrieval:
        search_text = await self._search_text(query, text, deadline)
        embed_start = time.perf_counter()
        vector, terms = await _before(
            deadline, asyncio.gather(self._embed(search_text), self._terms(search_text))
        )
        knowledge_bases = query.knowledge_bases or (self._config.default_knowledge_base,)
        if self._offsets is not None:
            docs_language = await _before(deadline, self._docs_languages.of(knowledge_bases))
            vector = self._offsets.toward(vector, detect_language(search_text), docs_language)
        search_start = time.perf_counter()
        # Twice as many, so that enough remain once the extra chunks of a section are dropped.
        depth = self._config.rerank_depth
        wanted = max(limit, depth) if terms else limit
        found = await _before(
            deadline, self._store.search(vector, search_text, knowledge_bases, 2 * wanted)
        )
        hits = one_per_section(found)
        if terms:
            ids = [hit.id for hit in hits[:depth]]
            hits = rerank(hits, await self._store.latent_closeness(terms, ids), depth)
        hits = hits[:limit]
        search_end = time.perf_counter()
        relevant = tuple(h for h in hits if h.similarity >= self._config.relevance_threshold)
        gap = _gap(hits)
        if relevant and gap is not None and gap < self._config.relevance_min_gap:
            relevant = ()
        log.info(
            "retrieved %d chunks, %d relevant, best similarity %s, gap to the %dth %s",
            len(hits),
            len(relevant),
            f"{max(h.similarity for h in hits):.3f}" if hits else "-",
            _GAP_RANK,
            f"{gap:.3f}" if gap is not None else "-",
        )
        best = max((h.similarity for h in relevant), default=None)
        return Retrieval(
            hits=tuple(hits),
            relevant=relevant,
            embed_ms=_ms(embed_start, search_start),
            search_ms=_ms(search_start, search_end),
            unsure=best is not None and best < self._config.unsure_below,
        )

    def _validate(self, text: str) -> str:
        stripped = text.strip()
        if not stripped:
            raise BadInputError("the question is empty", "empty_question")
        if not any(character.isalnum() for character in stripped):
            raise BadInputError("the question has no words", "no_words")
        limit = self._config.max_question_chars
        if len(stripped) > limit:
            raise BadInputError(
                f"the question is {len(stripped)} characters; the limit is {limit}",
                "question_too_long",
                length=len(stripped),
                limit=limit,
            )
        return stripped

    async def _embed(self, text: str) -> np.ndarray:
        await self._open_store()
        return await self._embedder.embed_query(text)

    async def _terms(self, text: str) -> LatentTerms:
        """The question's latent terms, when they can rerank (none otherwise)."""
        await self._open_store()
        if self._latent is None or not self._store.keeps_latent_terms:
            return {}
        return await self._latent.question_terms(text)

    async def _open_store(self) -> None:
        """Open the collection once, on the first question; concurrent first questions wait
        for the same opening instead of racing to start Milvus Lite twice."""
        async with self._opening:
            if not self._opened:
                await self._store.start()
                await self._store.open(self._embedder.model_id, await self._embedder.dimension())
                self._opened = True
                hybrid = self._store.layout == "hybrid"
                if self._latent and hybrid and not self._store.keeps_latent_terms:
                    log.warning(
                        "collection %r keeps no latent terms (made before them, or with "
                        "RERANK=off): questions are not reranked; re-ingest with "
                        "`helpbot ingest --recreate` to use RERANK=latent",
                        self._store.collection,
                    )

    async def _search_text(self, query: Query, text: str, deadline: float) -> str:
        """A follow-up ("and on S3?") is searched together with the turns before it."""
        earlier = [t.text for t in query.history if t.role == "user"]
        earlier = earlier[-self._config.history_turns :] if self._config.history_turns else []
        if not earlier:
            return text
        if self._chat is not None:
            try:
                recent = self._recent_history(query)
                condensed = await _before(
                    deadline, self._chat.complete(condense_messages(text, recent))
                )
                if condensed:
                    return condensed
            except ModelError as exc:
                log.warning("condensing the follow-up failed, searching the raw turns: %s", exc)
        return "\n".join([*earlier, text])

    def _recent_history(self, query: Query) -> tuple[Turn, ...]:
        """The earlier turns the model sees, for the search query and for the answer alike."""
        config = self._config
        return recent_history(query.history, config.history_turns, config.history_max_chars)

    async def _generate(
        self,
        chat: ChatModel,
        text: str,
        query: Query,
        hits: list[Hit],
        language: Language,
        deadline: float,
    ) -> AsyncIterator[str | TokenUsage]:
        """Stream the model's reply, and its token usage when reported. Its markers are held
        back until the reply can no longer start with one: `_REFUSED` when it says the
        documents do not answer, `_HEDGED` (then the rest) when it says they answer only in
        part."""
        history = self._recent_history(query)
        messages = answer_messages(text, history, format_documents(hits), language)
        held: str | None = ""
        hedged = False
        async with aclosing(chat.stream(messages)) as deltas:
            while True:
                try:
                    delta = await _before(deadline, anext(deltas))
                except StopAsyncIteration:
                    break
                if isinstance(delta, TokenUsage) or held is None:
                    yield delta
                    continue
                held += delta
                start = held.lstrip()
                if start.startswith(UNSURE) and not hedged:
                    hedged = True
                    yield _HEDGED
                    held = start = start[len(UNSURE) :].lstrip()
                if start.startswith(NO_ANSWER):
                    yield _REFUSED
                    return
                markers = (NO_ANSWER,) if hedged else (NO_ANSWER, UNSURE)
                if not any(marker.startswith(start) for marker in markers):
                    yield held
                    held = None
        if held is not None and held.strip():
            yield held
        elif held is not None and hedged:
            yield _REFUSED  # a hedge with nothing after it answers nothing
        elif held is not None:
            raise ModelError("the model returned an empty reply")


async def _before(deadline: float, awaitable: Awaitable[T]) -> T:
    """Await within the question's overall deadline."""
    try:
        async with asyncio.timeout_at(deadline):
            return await awaitable
    except TimeoutError as exc:
        raise AnswerTimeoutError("the answer deadline passed") from exc


def _gap(hits: Sequence[Hit]) -> float | None:
    """How much closer the best chunk is than the 5th best; None with fewer than 5 hits.

    A question the docs answer usually has one chunk that stands out; one they do not
    answer, but that sounds like them, lands near several chunks about equally.
    """
    if len(hits) < _GAP_RANK:
        return None
    similarities = sorted((h.similarity for h in hits), reverse=True)
    return similarities[0] - similarities[_GAP_RANK - 1]


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 1)


def _cited_sources(reply: str, hits: list[Hit]) -> tuple[Source, ...]:
    """The documents the reply cites, keeping the numbers it used; all of them if none."""
    cited: list[int] = []
    for match in _CITATION.finditer(reply):
        for number in match.group(1).split(","):
            n = int(number)
            if 1 <= n <= len(hits) and n not in cited:
                cited.append(n)
    numbers = sorted(cited) or list(range(1, len(hits) + 1))
    return tuple(to_source(n, hits[n - 1]) for n in numbers)
