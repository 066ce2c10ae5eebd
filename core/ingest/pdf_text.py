"""The text of each page of a PDF, or the reason it has none worth indexing."""

from __future__ import annotations

import io

from pypdf import PdfReader
from pypdf.errors import DependencyError


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
        pages = tuple(page.extract_text() for page in reader.pages)
    except UnreadablePdfError:
        raise
    except DependencyError as exc:
        raise UnreadablePdfError(f"encrypted PDF ({exc})") from exc
    except Exception as exc:  # pypdf raises many kinds on a damaged file; none may stop an ingest
        raise UnreadablePdfError(f"not a readable PDF ({_first_line(exc)})") from exc
    if not any(text.strip() for text in pages):
        raise UnreadablePdfError("no extractable text (a scanned PDF?)")
    return title, pages


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
