"""Sync a knowledge base with files on disk: add, update and delete chunks by content id.

Order makes a crash harmless: a file's new chunks are written before its stale ones are
deleted, and ids derive from content, so re-running after a crash converges on the state one
clean run would have left.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from core.chunking import Chunk, chunk_markdown, chunk_plain_text
from core.documents import Document, IngestRoot, SkippedFile, read_document, resolve_roots, walk
from core.embedding_cache import EmbeddingCache, embed_with_cache
from core.embeddings import Embedder
from core.errors import BadInputError
from core.milvus_store import ChunkRef, MilvusStore, StoredChunk

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]
"""Called as (stage, done, total) while files are read and chunks embedded."""


@dataclass(frozen=True)
class IngestOptions:
    knowledge_base: str
    url_template: str | None = None
    max_chars: int = 1500
    overlap: int = 200
    max_file_bytes: int = 5_000_000
    batch_size: int = 32


@dataclass
class IngestReport:
    """What one ingest did; chunk counts follow the positions in each file."""

    files: int = 0
    chunks_added: int = 0
    chunks_updated: int = 0
    chunks_unchanged: int = 0
    chunks_deleted: int = 0
    files_deleted: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.chunks_added or self.chunks_updated or self.chunks_deleted)

    def summary(self) -> str:
        return (
            f"{self.files} files: {self.chunks_added} chunks added, {self.chunks_updated} updated, "
            f"{self.chunks_unchanged} unchanged, {self.chunks_deleted} deleted "
            f"({self.files_deleted} files removed); {len(self.skipped)} skipped; "
            f"{self.seconds:.1f} s"
        )


def chunk_id(kb: str, source: str, position: int, text: str) -> str:
    """Stable id from content: the same text at the same place is the same row."""
    digest = hashlib.sha256(f"{kb}\0{source}\0{position}\0{text}".encode()).hexdigest()
    return digest[:32]


def source_url(template: str | None, source: str) -> str:
    """Fill an `--url` template: {source} (faq/a.md), {path} (faq/a), {name} (a.md), {stem} (a)."""
    if not template:
        return ""
    path = PurePosixPath(source)
    try:
        return template.format(
            source=source, path=str(path.with_suffix("")), name=path.name, stem=path.stem
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise BadInputError(
            f"bad --url template {template!r}: use {{source}}, {{path}}, {{name}} or {{stem}}"
        ) from exc


def chunk_document(document: Document, options: IngestOptions) -> list[Chunk]:
    title = PurePosixPath(document.source).stem
    if document.is_markdown:
        return chunk_markdown(document.text, title, options.max_chars, options.overlap)
    return chunk_plain_text(document.text, title, options.max_chars, options.overlap)


class Ingestor:
    """Brings one knowledge base in line with the given files and folders."""

    def __init__(
        self, store: MilvusStore, embedder: Embedder, cache: EmbeddingCache | None = None
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._cache = cache

    async def sync(
        self,
        paths: list[Path],
        options: IngestOptions,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        notify = progress or (lambda stage, done, total: None)
        roots = resolve_roots(paths)
        source_url(options.url_template, "a/b.md")  # reject a bad template before any work
        await self._store.open(self._embedder.model_id, await self._embedder.dimension(), True)

        stored_by_source: dict[str, list[ChunkRef]] = defaultdict(list)
        for ref in await self._store.chunk_refs(options.knowledge_base):
            stored_by_source[ref.source].append(ref)

        documents, present = self._read(roots, options, report, notify)
        new_rows: list[tuple[Document, Chunk, str]] = []
        stale: list[str] = []
        for document, chunks in documents:
            old = {ref.id: ref for ref in stored_by_source.get(document.source, [])}
            old_positions = {ref.position for ref in old.values()}
            ids = [
                chunk_id(options.knowledge_base, document.source, c.position, c.text)
                for c in chunks
            ]
            for chunk, cid in zip(chunks, ids, strict=True):
                if cid in old:
                    report.chunks_unchanged += 1
                else:
                    new_rows.append((document, chunk, cid))
                    if chunk.position in old_positions:
                        report.chunks_updated += 1
                    else:
                        report.chunks_added += 1
            keep = set(ids)
            positions = {c.position for c in chunks}
            for ref in old.values():
                if ref.id not in keep:
                    stale.append(ref.id)
                    if ref.position not in positions:
                        report.chunks_deleted += 1

        for source, refs in stored_by_source.items():
            if source not in present and any(root.owns(source) for root in roots):
                report.files_deleted += 1
                report.chunks_deleted += len(refs)
                stale.extend(ref.id for ref in refs)

        await self._write(new_rows, options, notify)
        await self._store.delete(stale)
        if new_rows or stale:
            await self._store.flush()
        report.seconds = time.perf_counter() - started
        log.info("ingest finished: %s", report.summary())
        return report

    def _read(
        self,
        roots: list[IngestRoot],
        options: IngestOptions,
        report: IngestReport,
        notify: ProgressCallback,
    ) -> tuple[list[tuple[Document, list[Chunk]]], set[str]]:
        """Readable documents with their chunks, and every source still on disk.

        A skipped file still counts as present, so a file that is briefly unreadable or
        oversized keeps the chunks it had rather than vanishing from answers.
        """
        documents: list[tuple[Document, list[Chunk]]] = []
        present: set[str] = set()
        files = [(root, path) for root in roots for path in walk(root)]
        for done, (root, path) in enumerate(files, start=1):
            result = read_document(root, path, options.max_file_bytes)
            present.add(result.source)
            if isinstance(result, SkippedFile):
                report.skipped.append(result)
                log.warning("skipped %s: %s", result.source, result.reason)
            else:
                chunks = chunk_document(result, options)
                if chunks:
                    report.files += 1
                    documents.append((result, chunks))
                else:
                    report.skipped.append(SkippedFile(result.source, "no text to index"))
            notify("read", done, len(files))
        return documents, present

    async def _write(
        self,
        rows: list[tuple[Document, Chunk, str]],
        options: IngestOptions,
        notify: ProgressCallback,
    ) -> None:
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            notify("embed", done, len(rows))

        notify("embed", 0, len(rows))
        step = options.batch_size * 4
        for start in range(0, len(rows), step):
            batch = rows[start : start + step]
            texts = [chunk.indexed_text() for _, chunk, _ in batch]
            vectors = await embed_with_cache(
                self._embedder, self._cache, texts, options.batch_size, advance
            )
            await self._store.upsert(
                [
                    StoredChunk(
                        id=cid,
                        kb=options.knowledge_base,
                        source=document.source,
                        url=source_url(options.url_template, document.source),
                        title=chunk.title,
                        heading=chunk.heading,
                        position=chunk.position,
                        body=chunk.text,
                        text=text,
                        dense=vector,
                    )
                    for (document, chunk, cid), text, vector in zip(
                        batch, texts, vectors, strict=True
                    )
                ]
            )
