"""Passages cut for display: snippets under sources, quoted excerpts in answers without a
model, and the one rule for shortening text."""

from __future__ import annotations

from core.language import Language
from core.messages import message
from core.models import Source
from core.search.types import Hit, content_hash

__all__ = ["shorten"]

SNIPPET_CHARS = 300
EXTRACTIVE_CHARS = 600
# Shorter identical texts ("Yes.", a one-line command) are different answers that happen to
# read alike; a longer identical text is one passage copied into two files.
_COPIED_MIN_CHARS = 100


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The start of a passage on one line, cut at a word boundary."""
    return shorten(" ".join(text.split()), limit)


def excerpt(text: str, limit: int) -> str:
    """The start of a passage with its line breaks kept (code stays readable)."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    kept = "\n".join(line for i, line in enumerate(lines) if line or (i and lines[i - 1]))
    cut = shorten(kept, limit)
    # A cut inside a code fence would leave the rest of the message rendered as code.
    return cut + "\n```" if cut.count("```") % 2 else cut


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters: cut at a word boundary (unless that loses more than half)
    and ended with an ellipsis. The one way text is cut for display, here and in adapters."""
    if len(text) <= limit:
        return text
    room = max(limit - 1, 0)
    cut = text.rfind(" ", 0, room + 1)
    return text[: cut if cut > room // 2 else room].rstrip() + "…"


def to_source(number: int, hit: Hit) -> Source:
    """A hit as a numbered source the adapters show."""
    return Source(
        number=number,
        source=hit.source,
        title=hit.title,
        heading=hit.heading,
        snippet=snippet(hit.body),
        score=round(hit.similarity, 4),
        url=hit.url or None,
        chunk_id=hit.id,
        content_hash=content_hash(hit.body),
    )


def extractive_answer(
    hits: list[Hit], language: Language, unsure: bool = False
) -> tuple[str, tuple[Source, ...]]:
    """The answer without a model: the best passages quoted, each with its number, after a
    line that says when they may not answer the question."""
    sources = tuple(to_source(n, hit) for n, hit in enumerate(hits, start=1))
    lines = [message("unsure_intro" if unsure else "extractive_intro", language)]
    for source, hit in zip(sources, hits, strict=True):
        quoted = "\n".join(
            f"> {line}".rstrip() for line in excerpt(hit.body, EXTRACTIVE_CHARS).splitlines()
        )
        lines.append(f"\n[{source.number}] **{hit.heading}** ({hit.source})\n{quoted}")
    return "\n".join(lines), sources


def one_per_section(hits: list[Hit]) -> list[Hit]:
    """The hits with only the best chunk of each section as the asker sees it: the page and
    the heading its source is labelled with. A long section is cut into several chunks; a
    page's introduction may carry its title again as `## Title`; `Python > Example` and
    `Java > Example` are both labelled `SDK > Example`: two places under one label read as
    one (and measured better than telling them apart, docs/quality.md). The same text in two
    files (a fragment that pages include, a copied FAQ answer) is shown once."""
    seen: set[tuple[str, str]] = set()
    texts: set[str] = set()
    kept = []
    for hit in hits:
        # A document without headings (plain text) has no sections: each chunk is its own.
        key = (hit.source, hit.heading if hit.sections else hit.id)
        text = " ".join(hit.body.split())
        copied = len(text) >= _COPIED_MIN_CHARS and text in texts
        if key not in seen and not copied:
            seen.add(key)
            texts.add(text)
            kept.append(hit)
    return kept
