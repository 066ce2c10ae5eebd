"""A document as the chunks to store, each with its link: the `--url` template filled in, or
the document's own address; a PDF's chunks headed and linked by page."""

from __future__ import annotations

import string
from dataclasses import replace
from pathlib import PurePosixPath

from core.errors import BadInputError
from core.ingest.chunking import Chunk, chunk_markdown, chunk_plain_text, with_short_labels
from core.ingest.documents import Document, PagedDocument


def source_url(template: str | None, source: str) -> str:
    """Fill an `--url` template: {source} (faq/a.md), {path} (faq/a), {name} (a.md), {stem}
    (a), {file} (a.md: the path inside the folder, zip or repository ingested)."""
    if not template:
        return ""
    path = PurePosixPath(source)
    values = {"source": source, "path": str(path.with_suffix("")), "name": path.name}
    values["stem"] = path.stem
    values["file"] = source.split("/", 1)[-1]
    problem = (
        f"bad --url template {template!r}: use {{source}}, {{path}}, {{name}}, {{stem}} or {{file}}"
    )
    try:
        # Only the bare placeholders: `{source.upper}` or `{source[0]}` would reach into
        # Python objects (a method's repr as the link, or an unexpected error).
        fields = [
            field for _, field, _, _ in string.Formatter().parse(template) if field is not None
        ]
        if any(field not in values for field in fields):
            raise BadInputError(problem)
        return template.format(**values)
    except (IndexError, ValueError) as exc:
        raise BadInputError(problem) from exc


def chunk_document(
    document: Document, url_template: str | None, max_chars: int, overlap: int, min_chars: int
) -> list[tuple[Chunk, str]]:
    """The document's chunks, each with its link and short labels (titles and headings): a
    PDF's chunks are headed and linked by page."""
    return [
        (with_short_labels(c), link)
        for c, link in _chunks_with_links(document, url_template, max_chars, overlap, min_chars)
    ]


def _chunks_with_links(
    document: Document, url_template: str | None, max_chars: int, overlap: int, min_chars: int
) -> list[tuple[Chunk, str]]:
    link = source_url(url_template, document.source) or document.link
    if isinstance(document, PagedDocument):
        chunks: list[tuple[Chunk, str]] = []
        for number, text in enumerate(document.pages, start=1):
            for chunk in chunk_plain_text(text.strip(), document.title, max_chars, overlap):
                page = (f"Page {number}",)
                paged = replace(chunk, headings=page, sections=page, position=len(chunks))
                chunks.append((paged, link and f"{link}#page={number}"))
        return chunks
    if document.markdown:
        pieces = chunk_markdown(document.text, document.title, max_chars, overlap, min_chars)
    else:
        pieces = chunk_plain_text(document.text, document.title, max_chars, overlap)
    return [(c, link) for c in pieces]
