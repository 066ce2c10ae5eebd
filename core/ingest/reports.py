"""What an ingest is told (its options) and what it did (its report)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.ingest.files import SkippedFile
from core.ingest.sources import SourceLimits
from core.search.types import Validators

__all__ = ["IngestOptions", "IngestReport"]


@dataclass(frozen=True)
class IngestOptions:
    knowledge_base: str
    url_template: str | None = None
    max_chars: int = 1500
    overlap: int = 200
    min_chars: int = 0
    max_file_bytes: int = 5_000_000
    batch_size: int = 32
    max_zip_bytes: int = 200_000_000
    max_zip_files: int = 10_000
    download_timeout_s: float = 120.0
    replace: bool = False
    """Let an input take over a scope recorded from another path or URL (`--replace`)."""
    owner: str = "cli"
    """Who adds the inputs, recorded with them: "cli", or "sources-file"."""
    auth_token: str | None = field(default=None, repr=False)
    """Sent as `Authorization: Bearer` with every download; never stored or printed."""

    def source_limits(self, known: Mapping[str, Validators]) -> SourceLimits:
        """The limits of this ingest; `known` has earlier downloads' validators, so a page
        that did not change answers 304 and is kept."""
        return SourceLimits(
            self.max_file_bytes,
            self.max_zip_bytes,
            self.max_zip_files,
            self.download_timeout_s,
            self.auth_token,
            known,
        )


@dataclass
class IngestReport:
    """What one ingest did; chunk counts follow the positions in each file."""

    files: int = 0
    chunks_added: int = 0
    chunks_updated: int = 0
    chunks_unchanged: int = 0
    chunks_deleted: int = 0
    files_deleted: int = 0
    files_not_modified: int = 0
    """Pages the server said did not change (HTTP 304): kept, not downloaded or embedded."""
    skipped: list[SkippedFile] = field(default_factory=list)
    seconds: float = 0.0
    validators: dict[str, Validators] = field(default_factory=dict)
    """Each URL downloaded, and what to send to ask whether it changed since."""

    @property
    def changed(self) -> bool:
        """True when Milvus was written to: something was added, updated or deleted."""
        return bool(self.chunks_added or self.chunks_updated or self.chunks_deleted)

    def summary(self) -> str:
        return (
            f"{self.files} files: {self.chunks_added} chunks added, {self.chunks_updated} updated, "
            f"{self.chunks_unchanged} unchanged, {self.chunks_deleted} deleted "
            f"({self.files_deleted} files removed); {len(self.skipped)} skipped; "
            f"{self.seconds:.1f} s"
        )
