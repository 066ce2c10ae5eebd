"""Rendering both chat adapters share: splitting long text, labelling sources."""

from __future__ import annotations

from core import Source


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at paragraph, line or word boundaries, so a
    platform's message limit is met by splitting rather than by an API error."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = max(rest.rfind(sep, limit // 2, limit) for sep in ("\n\n", "\n", " "))
        cut = cut if cut > 0 else limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def source_label(source: Source) -> str:
    """'Title > Heading', or just the heading when it repeats the title."""
    if not source.title or source.title == source.heading:
        return source.heading
    return f"{source.title} > {source.heading}"
