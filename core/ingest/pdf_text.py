"""The text of each page of a PDF, or the reason it has none worth indexing."""

from __future__ import annotations

import io

from pypdf import PdfReader
from pypdf.errors import DependencyError

# Decoded page content one PDF may hold: a text-heavy 5,000-page book, parsed in well under a
# minute here even when the content is dense with operators.
MAX_CONTENT_BYTES = 20_000_000


class UnreadablePdfError(Exception):
    """A PDF that cannot be indexed; the message is the reason shown to the user."""


def pdf_pages(data: bytes) -> tuple[str, tuple[str, ...]]:
    """The PDF's own title ("" when it has none) and the text of each page, in page order."""
    try:
        reader = PdfReader(io.BytesIO(data))
        # Many PDFs are encrypted only to restrict printing: an empty password opens them.
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadablePdfError("encrypted PDF (needs a password)")
        title = str(reader.metadata.title or "").strip() if reader.metadata else ""
        pages = _page_texts(reader)
    except UnreadablePdfError:
        raise
    except DependencyError as exc:
        raise UnreadablePdfError(f"encrypted PDF ({exc})") from exc
    except Exception as exc:  # pypdf raises many kinds on a damaged file; none may stop an ingest
        raise UnreadablePdfError(f"not a readable PDF ({_first_line(exc)})") from exc
    if not any(text.strip() for text in pages):
        raise UnreadablePdfError("no extractable text (a scanned PDF?)")
    return title, pages


def _page_texts(reader: PdfReader) -> tuple[str, ...]:
    """Each page's text, within a budget of decoded page content: pages can share one content
    stream, so a 55 KB file can make pypdf parse 780 MB (seconds per page, for hours)."""
    decoded = 0
    for page in reader.pages:  # decoding is cheap (and cached); parsing is what costs
        contents = page.get_contents()
        decoded += len(contents.get_data()) if contents is not None else 0
        if decoded > MAX_CONTENT_BYTES:
            raise UnreadablePdfError(
                f"its pages hold more than {MAX_CONTENT_BYTES // 1_000_000} MB of content "
                "once decoded (a crafted PDF?); split it to index it"
            )
    return tuple(page.extract_text() for page in reader.pages)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
