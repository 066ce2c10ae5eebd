"""The learning loop a running bot keeps: the digest posted every `DIGEST_EVERY`, and one
notice in the thread of each answer whose cited section a sync changed (`STALE_NOTICE`).

The answer log hands out each digest and each notice once across every process sharing it
(a sync in any process marks answers stale; the running bot picks them up here), and keeps
the last digest's time, so a restart neither repeats nor skips one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from core import AnswerLog, AnswerRecord, CoverageGaps

__all__ = ["POLL_S", "LearningLoop", "Poster", "post_parts", "stale_section"]

log = logging.getLogger(__name__)

POLL_S = 60.0
"""How often the loop looks for a due digest and stale answers (read when a loop is made)."""
_NOTICES_PER_POLL = 5  # at most this many notices a minute: a big sync does not flood chat


class Poster(Protocol):
    """One platform's way of posting the loop's messages."""

    platform: str
    digest_channel: str | None

    async def post_digest(self, text: str) -> bool:
        """Whether the whole digest went: False when it was cut short after its first part
        (logged), or there is no digest channel to post in."""
        ...

    async def post_notice(self, record: AnswerRecord) -> None: ...


async def post_parts(
    parts: Sequence[str], send: Callable[[str], Awaitable[object]], platform: str
) -> bool:
    """Posts a digest part by part; whether every part went. If the first part fails, the
    error goes up and the next poll tries the period again. If a later part fails, the digest
    counts as posted, cut short and logged: trying again would show the channel its first
    parts twice."""
    for number, part in enumerate(parts, start=1):
        try:
            await send(part)
        except Exception:
            if number == 1:
                raise
            log.exception(
                "the digest on %s was cut short: part %d of %d could not be posted",
                platform,
                number,
                len(parts),
            )
            return False
    return True


def stale_section(record: AnswerRecord) -> tuple[str, str | None]:
    """The section a stale notice names (the cited one the sync changed; the first source
    when that is not known), and its link."""
    if not record.citations:
        return "", None
    index = record.stale_cited or 0
    cited = record.citations[index if index < len(record.citations) else 0]
    return cited.heading or cited.source, cited.url


class LearningLoop:
    """Polls the answer log for a due digest and for stale answers, and posts them."""

    def __init__(
        self,
        answer_log: AnswerLog,
        coverage: CoverageGaps,
        posters: Sequence[Poster],
        every_s: float,
        notices: bool,
        poll_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._log = answer_log
        self._coverage = coverage
        self._posters = {poster.platform: poster for poster in posters}
        self._every_s = every_s
        self._notices = notices
        self._poll_s = poll_s or POLL_S
        self._clock = clock

    @property
    def enabled(self) -> bool:
        """Whether there is anything to do: a digest channel, or notices switched on."""
        return self._notices or any(p.digest_channel for p in self._posters.values())

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every poll until `stop` is set; a failed tick is logged and retried."""
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("the learning loop's digest or notices failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_s)

    async def tick(self) -> None:
        await self._digest()
        if self._notices:
            await self._stale_notices()

    async def _digest(self) -> None:
        """Each platform's digest once its own schedule says it is due; one that cannot be
        posted is given back, and the next poll tries the same period again."""
        now = self._clock()
        due: dict[float, list[Poster]] = {}
        for poster in self._posters.values():
            if not poster.digest_channel:
                continue
            last = await self._log.claim_digest(now, self._every_s, poster.platform)
            if last:  # not due (None), or the very first start (0.0), which starts the clock
                due.setdefault(last, []).append(poster)
        for last, posters in due.items():
            unposted = list(posters)
            try:
                digest = await self._coverage.digest(last, now)
                for poster in posters:
                    try:
                        whole = await poster.post_digest(digest.text)
                    except Exception:
                        log.exception("could not post the digest on %s", poster.platform)
                        continue
                    unposted.remove(poster)  # cut short or not: never posted twice
                    said = "posted" if whole else "cut short"
                    log.info("digest %s on %s: %d questions", said, poster.platform, digest.asked)
            finally:
                for poster in unposted:
                    await self._log.release_digest(now, last, poster.platform)

    async def _stale_notices(self) -> None:
        claimed = await self._log.claim_stale_notices(set(self._posters), _NOTICES_PER_POLL)
        for record in claimed:
            if not (record.platform and record.channel and record.thread):
                continue  # nowhere to reply (a private `/ask` answer): the digest counts it
            try:
                await self._posters[record.platform].post_notice(record)
            except Exception:
                log.exception("could not post a stale-answer notice on %s", record.platform)
