"""Find the documents under the paths a user ingests, and read them or say why not."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.errors import BadInputError

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdx"})
TEXT_SUFFIXES = frozenset({".txt", ".text", ".rst"})
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Document:
    """A readable document; `source` is its path relative to the ingested folder's parent."""

    source: str
    path: Path
    text: str

    @property
    def is_markdown(self) -> bool:
        return self.path.suffix.lower() in MARKDOWN_SUFFIXES


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not ingested, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class IngestRoot:
    """One path given to `ingest`: a folder owns every source under `scope`, a file only itself."""

    path: Path
    scope: str
    is_dir: bool

    def owns(self, source: str) -> bool:
        return source.startswith(self.scope + "/") if self.is_dir else source == self.scope


def resolve_roots(paths: list[Path]) -> list[IngestRoot]:
    """Check every path exists before anything is written, so a typo loses nothing."""
    roots = []
    for raw in paths:
        path = raw.expanduser().resolve()
        if not path.exists():
            raise BadInputError(f"no such file or folder: {raw}")
        roots.append(IngestRoot(path, path.name, path.is_dir()))
    return roots


def walk(root: IngestRoot) -> Iterator[Path]:
    """Files under a root in a stable order, skipping hidden files and folders."""
    if not root.is_dir:
        yield root.path
        return
    for folder, dirs, files in os.walk(root.path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


def source_name(root: IngestRoot, path: Path) -> str:
    if not root.is_dir:
        return root.scope
    return f"{root.scope}/{path.relative_to(root.path).as_posix()}"


def read_document(root: IngestRoot, path: Path, max_bytes: int) -> Document | SkippedFile:
    """The document at `path`, or the reason it cannot be ingested; never raises for content."""
    source = source_name(root, path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return SkippedFile(source, f"unsupported file type ({suffix or 'no extension'})")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return SkippedFile(source, f"larger than MAX_FILE_BYTES ({size} > {max_bytes} bytes)")
        data = path.read_bytes()
    except OSError as exc:
        return SkippedFile(source, f"unreadable ({exc.strerror or exc})")
    if b"\0" in data[:_SNIFF_BYTES]:
        return SkippedFile(source, "binary file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return SkippedFile(source, "not UTF-8 text")
    if not text.strip():
        return SkippedFile(source, "empty file")
    return Document(source, path, text)
