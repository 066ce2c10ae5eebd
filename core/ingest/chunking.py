"""Split Markdown and plain text into heading-scoped chunks of bounded size."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import yaml

# CommonMark: an ATX heading may be indented by up to three spaces; a closing run of #s is
# dropped. Only levels 1-4 start a chunk; deeper headings stay inside their section.
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_SPLIT_LEVEL = 4
CHUNKING_VERSION = 2
"""Bumped whenever the rules below change what is stored: a collection built with another
version is re-ingested rather than mixed (the store checks it on open)."""
_LINK_TARGET = re.compile(r"\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")


@dataclass(frozen=True)
class Chunk:
    """A piece of one document, with where it sits in that document."""

    title: str
    headings: tuple[str, ...]
    text: str
    position: int
    sections: tuple[str, ...] = ()
    """Every heading whose section the chunk overlaps: its path, and the headings of small
    sections merged into it. Evaluation counts a chunk as showing a section by this."""

    @property
    def heading(self) -> str:
        """The innermost heading, or the title for text before any heading."""
        return self.headings[-1] if self.headings else self.title

    def indexed_text(self) -> str:
        """What gets embedded and full-text indexed: title and heading path give context.

        Link targets are dropped (the link text stays): long URLs are noise to both the
        embedding and BM25, and measurably hurt retrieval on the FAQ eval set.
        """
        parts = (
            self.headings if self.headings[:1] == (self.title,) else (self.title, *self.headings)
        )
        path = " > ".join(h for h in parts if h)
        body = _LINK_TARGET.sub("]", self.text)
        return f"{path}\n\n{body}" if path else body


@dataclass(frozen=True)
class _Section:
    headings: tuple[str, ...]
    body: str
    covered: tuple[str, ...] = ()


MAX_LABEL_CHARS = 300


def with_short_labels(chunk: Chunk) -> Chunk:
    """The chunk with its title and headings cut to MAX_LABEL_CHARS: a label that long is a
    paragraph set as a heading (or a hostile file), and would flood the embedding and overflow
    the store's fields."""

    def short(label: str) -> str:
        return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"

    return replace(
        chunk,
        title=short(chunk.title),
        headings=tuple(map(short, chunk.headings)),
        sections=tuple(map(short, chunk.sections)),
    )


def is_question(heading: str) -> bool:
    """A heading that asks what its section answers (an FAQ entry): its own words are worth
    matching a question against, unlike a terse label such as `queryCoord.ip`."""
    return heading.rstrip().endswith(("?", "\uff1f"))  # ASCII or full-width question mark


def collapse_whitespace(text: str) -> str:
    return " ".join(text.split())


class _FrontMatterLoader(yaml.SafeLoader):
    """YAML without aliases: a few hundred bytes of nested aliases expand to millions of
    characters (the "billion laughs"), and front matter never needs them."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("aliases are not allowed in front matter")
        return super().compose_node(parent, index)


def split_front_matter(text: str) -> tuple[dict[str, object], str]:
    """Strip YAML front matter, returning its fields (empty when absent, unreadable, nested
    deeper than the parser can recurse, or using aliases)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        fields = yaml.load(match.group(1), Loader=_FrontMatterLoader)
    except (yaml.YAMLError, RecursionError):
        fields = None
    return (fields if isinstance(fields, dict) else {}), text[match.end() :]


def chunk_markdown(
    text: str, fallback_title: str, max_chars: int, overlap: int, min_chars: int = 0
) -> list[Chunk]:
    """Chunks of a Markdown document, split at headings outside code fences; sections shorter
    than `min_chars` are merged with their neighbours under the same parent."""
    meta, body = split_front_matter(text)
    sections = _sections(body)
    title = str(meta.get("title") or "").strip() or _first_h1(sections) or fallback_title
    return _to_chunks(title, _merge_small(sections, min_chars, max_chars), max_chars, overlap)


def chunk_plain_text(text: str, title: str, max_chars: int, overlap: int) -> list[Chunk]:
    """Chunks of an unstructured text document, split at paragraph boundaries."""
    return _to_chunks(title, [_Section((), text)], max_chars, overlap)


def _first_h1(sections: list[_Section]) -> str | None:
    for section in sections:
        if section.headings:
            return section.headings[0]
    return None


def _sections(body: str) -> list[_Section]:
    sections: list[_Section] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    fence: str | None = None

    def close() -> None:
        sections.append(_Section(tuple(h for _, h in stack), "\n".join(lines).strip()))
        lines.clear()

    for line in body.splitlines():
        fence_match = _FENCE.match(line)
        if fence is not None:
            if (
                fence_match
                and fence_match.group(1)[0] == fence[0]
                and len(fence_match.group(1)) >= len(fence)
                and not line.strip()[len(fence_match.group(1)) :].strip()
            ):
                fence = None
            lines.append(line)
            continue
        if fence_match:
            fence = fence_match.group(1)
            lines.append(line)
            continue
        heading = _HEADING.match(line)
        if heading and len(heading.group(1)) <= _SPLIT_LEVEL and heading.group(2).strip():
            close()
            level = len(heading.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, collapse_whitespace(heading.group(2))))
            continue
        lines.append(line)
    close()
    return [s for s in sections if s.body or s.headings]


def _merge_small(sections: list[_Section], min_chars: int, max_chars: int) -> list[_Section]:
    """Fold a short section into the one before it (or that one into it) when they share a
    parent and fit in one chunk, so a reference page's one-line sections (a parameter, a CLI
    command) are found as one passage in context instead of crowding out whole answers. A
    merged section keeps its heading as a line of the text; question headings stay apart."""
    merged: list[_Section] = []
    for section in sections:
        if not section.body:
            continue
        before = merged[-1] if merged else None
        if before is None or not _mergeable(before, section, min_chars, max_chars):
            merged.append(replace(section, covered=section.headings))
            continue
        common = _common_prefix(before.headings, section.headings)
        body = f"{_lead(before.headings, common)}{before.body}\n\n"
        body += f"{_lead(section.headings, common)}{section.body}"
        covered = before.covered + tuple(h for h in section.headings if h not in before.covered)
        merged[-1] = _Section(common, body, covered)
    return merged


def _lead(headings: tuple[str, ...], common: tuple[str, ...]) -> str:
    """The headings of a merged section below the common path, as Markdown heading lines."""
    inner = headings[len(common) :]
    return "".join(f"{'#' * (len(common) + n + 1)} {h}\n\n" for n, h in enumerate(inner))


def _mergeable(before: _Section, section: _Section, min_chars: int, max_chars: int) -> bool:
    if min(len(before.body), len(section.body)) >= min_chars:
        return False
    if len(before.body) + len(section.body) + 200 > max_chars:
        return False
    if any(is_question(h) for h in (*before.covered, *section.headings)):
        return False
    a, b = before.headings, section.headings
    common = _common_prefix(a, b)
    # Siblings, a parent and its child, or a subsection and its parent's next sibling; at the
    # top, two sections of a page whose title is not a heading of its own.
    return len(common) >= min(len(a), len(b)) - 1 and (bool(common) or max(len(a), len(b)) == 1)


def _common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _to_chunks(title: str, sections: list[_Section], max_chars: int, overlap: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in sections:
        if not section.body:
            continue
        covered = section.covered or section.headings
        for piece in split_long_text(section.body, max_chars, overlap):
            chunks.append(Chunk(title, section.headings, piece, len(chunks), covered))
    return chunks


def split_long_text(text: str, max_chars: int, overlap: int) -> list[str]:
    """Pieces of at most `max_chars`, cut at paragraph, then line, then word boundaries.

    Each piece after the first starts with up to `overlap` characters from the end of the
    one before, so a sentence cut at a boundary is still found whole in one of them.
    """
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text):
            end = _best_cut(text, start, end)
        pieces.append(text[start:end].strip())
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
        # Begin the overlap at a word boundary rather than mid-word.
        space = text.find(" ", start, end)
        if 0 <= space < end - 1:
            start = space + 1
    return [p for p in pieces if p]


def _best_cut(text: str, start: int, end: int) -> int:
    floor = start + (end - start) // 2
    for separator in ("\n\n", "\n", ". ", "。", " "):
        cut = text.rfind(separator, floor, end)
        if cut > floor:
            return cut + len(separator)
    return end
