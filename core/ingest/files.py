"""The files ingestion reads (from a folder, a zip or a download) and the ones it skips. Kept
apart from document parsing, so listing files needs no HTML or PDF parser."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest from a folder, a zip or a download: its source name, size and bytes.

    `load` raises OSError when the bytes cannot be read. A download also carries what its
    response said (`media_type`, `charset`) and its own address (`link`).
    """

    source: str
    size: int
    load: Callable[[], bytes]
    media_type: str = ""
    charset: str | None = None
    link: str = ""


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not ingested, and why.

    `keeps_old_chunks` is true when the problem may pass (unreadable, too large): chunks
    stored from an earlier version stay. An emptied file has nothing left to answer from.
    `is_folder`: a whole folder was skipped, and what it kept covers every source under it.
    """

    source: str
    reason: str
    keeps_old_chunks: bool = True
    is_folder: bool = False

    def covers(self, source: str) -> bool:
        """Whether this skip keeps `source`'s stored chunks."""
        if not self.keeps_old_chunks:
            return False
        return source == self.source or (self.is_folder and source.startswith(self.source + "/"))


@dataclass(frozen=True)
class UnchangedFile:
    """A page the server said did not change since the last sync (HTTP 304): its stored
    chunks stay, and nothing is downloaded or embedded."""

    source: str
