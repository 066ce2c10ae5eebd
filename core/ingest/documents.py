"""Read one file, wherever it came from, into a document of text, or say why not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from core.ingest.files import SkippedFile, SourceFile
from core.ingest.html_markdown import html_to_markdown
from core.ingest.pdf_text import UnreadablePdfError, pdf_pages

Format = Literal["markdown", "text", "html", "pdf"]

_FORMAT_BY_SUFFIX: dict[str, Format] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdx": "markdown",
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
_FORMAT_BY_MEDIA_TYPE: dict[str, Format] = {
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
}
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class TextDocument:
    """A document as Markdown (HTML is converted to it) or plain text.

    `title` is the fallback title (the HTML <title> or the file's stem): a Markdown document's
    front matter or first heading wins over it.
    """

    source: str
    title: str
    text: str
    markdown: bool
    link: str = ""


@dataclass(frozen=True)
class PagedDocument:
    """A document read page by page (a PDF): page n's text is `pages[n - 1]`."""

    source: str
    title: str
    pages: tuple[str, ...]
    link: str = ""


Document = TextDocument | PagedDocument


def _file_format(file: SourceFile) -> Format | None:
    """A download's media type decides its format, else the extension does.

    text/plain defers to the extension, since servers send Markdown as text/plain; a specific
    type wins, since some HTML pages have `.md` addresses (milvus.io/docs/overview.md).
    """
    suffix = PurePosixPath(file.source).suffix.lower()
    return (
        _FORMAT_BY_MEDIA_TYPE.get(file.media_type)
        or _FORMAT_BY_SUFFIX.get(suffix)
        or ("text" if file.media_type == "text/plain" else None)
    )


def read_document(file: SourceFile, max_bytes: int) -> Document | SkippedFile:
    """The document in `file`, or the reason it cannot be ingested; never raises for content."""
    source = file.source
    fmt = _file_format(file)
    if fmt is None:
        kind = file.media_type or PurePosixPath(source).suffix.lower() or "no extension"
        return SkippedFile(source, f"unsupported file type ({kind})")
    if file.size > max_bytes:
        return SkippedFile(source, f"larger than MAX_FILE_BYTES ({file.size} > {max_bytes} bytes)")
    try:
        data = file.load()
    except OSError as exc:
        return SkippedFile(source, f"unreadable ({exc.strerror or exc})")
    if not data.strip():
        return SkippedFile(source, "empty file", keeps_old_chunks=False)
    stem = PurePosixPath(source).stem
    if fmt == "pdf":
        try:
            title, pages = pdf_pages(data)
        except UnreadablePdfError as exc:
            return SkippedFile(source, str(exc))
        return PagedDocument(source, title or stem, pages, file.link)
    if fmt == "html":
        title, markdown = html_to_markdown(data, file.charset)
        return TextDocument(source, title or stem, markdown, True, file.link)
    return _read_text(file, data, fmt == "markdown", stem)


def _read_text(file: SourceFile, data: bytes, markdown: bool, title: str) -> Document | SkippedFile:
    if b"\0" in data[:_SNIFF_BYTES]:
        return SkippedFile(file.source, "binary file")
    encoding = file.charset or "utf-8-sig"
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        label = "UTF-8" if encoding == "utf-8-sig" else encoding
        return SkippedFile(file.source, f"not {label} text")
    if not text.strip():
        return SkippedFile(file.source, "empty file", keeps_old_chunks=False)
    return TextDocument(file.source, title, text, markdown, file.link)
