"""Sync a knowledge base with files, zips and web pages: add, update and delete chunks by id.

Order makes a crash harmless: a file's new chunks are written before its stale ones are
deleted, and ids derive from content, so re-running after a crash converges on the state one
clean run would have left.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from core.errors import BadInputError
from core.ingest.changes import ChangeListener, ChunkChanges
from core.ingest.chunk_vectors import chunk_vectors
from core.ingest.chunking import Chunk
from core.ingest.document_chunks import chunk_document, source_url
from core.ingest.documents import Document, read_document
from core.ingest.files import SkippedFile, SourceFile, UnchangedFile
from core.ingest.forget import ForgetReport, forget, remove_roots
from core.ingest.page_validators import version_changes
from core.ingest.reports import IngestOptions, IngestReport
from core.ingest.sources import (
    FolderInput,
    IngestRoot,
    ListedFile,
    SitemapInput,
    resolve_inputs,
)
from core.ingest.zip_archive import ArchiveError
from core.search.embedding_cache import EmbeddingCache
from core.search.embeddings import Embedder
from core.search.latent_terms import LatentReader
from core.search.milvus.schema import MAX_BYTES
from core.search.milvus.store import MilvusStore
from core.search.types import ChunkRef, RootRecord, StoredChunk, Validators, content_hash

__all__ = ["IngestReport"]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]
"""Called as (stage, done, total) while files are read ("read"), chunks embedded ("embed")
and their latent terms computed ("terms")."""


def chunk_id(kb: str, source: str, position: int, text: str) -> str:
    """Stable id from content: the same content at the same place is the same row, and any
    change to what is stored (text, title, heading, link) is a new row."""
    digest = hashlib.sha256(f"{kb}\0{source}\0{position}\0{text}".encode()).hexdigest()
    return digest[:32]


def _stored_content(chunk: Chunk, url: str) -> str:
    """Everything a row stores from its document: a changed document title or link template
    must replace the rows, not only a changed text."""
    parts = (chunk.title, chunk.heading, chunk.text, chunk.indexed_text(), url, *chunk.sections)
    return "\0".join(parts)


class Ingestor:
    """Brings one knowledge base in line with the given folders, files, zips and URLs."""

    def __init__(
        self,
        store: MilvusStore,
        embedder: Embedder,
        cache: EmbeddingCache | None = None,
        on_change: ChangeListener | None = None,
        latent: LatentReader | None = None,
    ) -> None:
        """`on_change` hears of every sync or forget that changed a knowledge base (the
        answer log marks answers that cited a removed chunk stale; gaps are checked against
        the new docs); a failure there never fails the sync. `latent` computes the chunks'
        latent terms for a collection that keeps them."""
        self._store = store
        self._embedder = embedder
        self._cache = cache
        self._latent = latent
        self._on_change = on_change

    async def _changed(self, changes: ChunkChanges) -> None:
        if self._on_change is None:
            return
        try:
            await self._on_change(changes)
        except Exception:
            log.exception("could not act on what the sync changed (stale answers, gaps)")

    async def sync(
        self,
        inputs: Sequence[str | Path | SitemapInput | FolderInput],
        options: IngestOptions,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Bring the knowledge base in line with folders, files, zips and http(s) URLs.

        Every path is checked and every URL downloaded before anything is written, and
        before the write lock is taken, so a slow site holds up no other writer; another
        process writing to the same Lite file is then waited for. What changed is handed on
        after the lock is released, so checking gaps never holds up another writer either.
        """
        started = time.perf_counter()
        report = IngestReport()
        notify = progress or (lambda stage, done, total: None)
        read = await self._read_inputs(inputs, options, report, notify)
        async with self._store.writing():
            changes = await self._sync(read, options, report, notify)
        report.seconds = time.perf_counter() - started
        log.info("ingest finished: %s", report.summary())
        if changes is not None:
            await self._changed(changes)
        return report

    async def _read_inputs(
        self,
        inputs: Sequence[str | Path | SitemapInput | FolderInput],
        options: IngestOptions,
        report: IngestReport,
        notify: ProgressCallback,
    ) -> _Read:
        source_url(options.url_template, "a/b.md")  # reject a bad template before any work
        known: dict[str, Validators] = {}
        existed = await self._store.exists()
        if existed:  # a collection of another model is refused here, before any download
            await self._store.open(self._embedder.model_id, await self._embedder.dimension())
            known = await self._store.page_versions(options.knowledge_base)
        roots = await resolve_inputs(inputs, options.source_limits(known))
        # Reading zips, PDFs and HTML is CPU and disk work: all of it runs here, off the loop.
        documents, kept, listed = await asyncio.to_thread(
            self._read, roots, options, report, notify
        )
        return _Read(existed, known, roots, documents, kept, listed)

    async def _sync(
        self, read: _Read, options: IngestOptions, report: IngestReport, notify: ProgressCallback
    ) -> ChunkChanges | None:
        kb = options.knowledge_base
        existed, known, roots, documents, kept, listed = read
        if not existed:  # opened while reading otherwise
            await self._store.open(self._embedder.model_id, await self._embedder.dimension(), True)
        await self._check_origins(roots, options)

        stored_by_source: dict[str, list[ChunkRef]] = defaultdict(list)
        for ref in await self._store.chunk_refs(options.knowledge_base):
            stored_by_source[ref.source].append(ref)

        new_rows: list[_Row] = []
        stale: list[str] = []
        for source, chunks in documents:
            old = {ref.id: ref for ref in stored_by_source.get(source, [])}
            old_positions = {ref.position for ref in old.values()}
            ids = [
                chunk_id(options.knowledge_base, source, c.position, _stored_content(c, url))
                for c, url in chunks
            ]
            for (chunk, url), cid in zip(chunks, ids, strict=True):
                if cid in old:
                    report.chunks_unchanged += 1
                else:
                    new_rows.append(_Row(source, chunk, cid, url))
                    if chunk.position in old_positions:
                        report.chunks_updated += 1
                    else:
                        report.chunks_added += 1
            keep = set(ids)
            positions = {c.position for c, _ in chunks}
            for ref in old.values():
                if ref.id not in keep:
                    stale.append(ref.id)
                    if ref.position not in positions:
                        report.chunks_deleted += 1

        remaining = {source for source, _ in documents}
        for source, refs in stored_by_source.items():
            if kept.keeps(source) or not any(root.owns(source) for root in listed):
                remaining.add(source)
            else:
                report.files_deleted += 1
                report.chunks_deleted += len(refs)
                stale.extend(ref.id for ref in refs)

        await self._write(new_rows, options, notify)
        await self._store.delete(stale)
        if new_rows or stale:
            await self._store.flush()
        await self._store.update_hubness(options.knowledge_base, changed=bool(new_rows or stale))
        changes = None
        if new_rows or stale:
            still_there = frozenset(
                (source, content_hash(c.text)) for source, chunks in documents for c, _ in chunks
            )
            changes = ChunkChanges(options.knowledge_base, tuple(stale), still_there, len(new_rows))
        for root in listed:
            report.validators.update(root.validators)
        versions, gone = version_changes(report.validators, known, remaining, listed)
        if versions or gone:
            await self._store.record_page_versions(kb, versions, gone)
        synced_at = time.time()
        await self._store.record_roots(
            [
                RootRecord(
                    options.knowledge_base, r.scope, r.origin, r.is_dir, options.owner, synced_at
                )
                for r in listed
            ]
        )
        return changes

    async def forget(self, kb: str, names: Sequence[str]) -> ForgetReport:
        """Delete what `names` name in `kb`, or all of `kb` with no names (see `forget`)."""
        async with self._store.writing():
            await self._store.open(self._embedder.model_id, await self._embedder.dimension())
            report = await forget(self._store, kb, names)
        if report.removed:
            await self._changed(ChunkChanges(kb, report.removed))
        return report

    async def remove_unlisted(
        self, owner: str, listed: set[tuple[str, str]]
    ) -> tuple[list[RootRecord], int]:
        """Remove the roots `owner` added whose (knowledge base, origin) is not in `listed`:
        the roots and the chunks deleted."""
        async with self._store.writing():
            await self._store.open(self._embedder.model_id, await self._embedder.dimension(), True)
            gone = [
                record
                for record in await self._store.root_records()
                if record.owner == owner and (record.kb, record.origin) not in listed
            ]
            removed = await remove_roots(self._store, gone)
        for kb in {record.kb for record in gone} if removed else ():
            await self._changed(ChunkChanges(kb, tuple(removed)))
        return gone, len(removed)

    async def record_failure(self, kb: str, origin: str, error: str) -> None:
        """Note on the record of the root read from `origin` why its last sync failed (its
        chunks stay); nothing when it was never synced."""
        async with self._store.writing():
            records = [r for r in await self._store.root_records(kb) if r.origin == origin]
            await self._store.record_roots([replace(r, error=error) for r in records])

    async def _check_origins(self, roots: list[IngestRoot], options: IngestOptions) -> None:
        """Refuse an input whose scope was ingested from another path or URL: its sync would
        delete the other's chunks (`~/b/handbook` after `~/a/handbook`)."""
        if options.replace:
            return
        recorded = {
            r.scope: r.origin for r in await self._store.root_records(options.knowledge_base)
        }
        for root in roots:
            before = recorded.get(root.scope)
            if before is not None and before != root.origin:
                raise BadInputError(
                    f"knowledge base {options.knowledge_base!r} already has {root.scope!r} "
                    f"from {before}; ingesting {root.origin} would replace it. Pass --replace "
                    "to do that, or ingest it into another knowledge base (--kb)"
                )

    def _read(
        self,
        roots: list[IngestRoot],
        options: IngestOptions,
        report: IngestReport,
        notify: ProgressCallback,
    ) -> tuple[list[tuple[str, list[tuple[Chunk, str]]]], _Kept, list[IngestRoot]]:
        """Chunks by source, what keeps its stored chunks, and the roots listed.

        A skipped file or folder still counts as present when its problem may pass
        (unreadable, oversized), so it keeps the chunks it had rather than vanishing from
        answers; a zip that cannot be used at all is left out of the listed roots, so none of
        its chunks go.
        """
        files: list[ListedFile] = []
        listed: list[IngestRoot] = []
        for root in roots:
            try:
                files += root.files()
            except ArchiveError as exc:
                _skip(report, SkippedFile(root.label, str(exc)))
            else:
                listed.append(root)
        documents: list[tuple[str, list[tuple[Chunk, str]]]] = []
        present: set[str] = set()
        emptied: set[str] = set()
        folders: list[SkippedFile] = []
        for done, file in enumerate(files, start=1):
            if isinstance(file, UnchangedFile):
                present.add(file.source)
                report.files_not_modified += 1
                notify("read", done, len(files))
                continue
            result, chunks = _read_one(file, options)
            if result.source in present:
                raise BadInputError(
                    f"{result.source} comes from more than one of the given paths; "
                    "ingest paths with the same folder name separately"
                )
            present.add(result.source)
            if isinstance(result, SkippedFile):
                _skip(report, result)
                if result.is_folder:
                    folders.append(result)
                if not result.keeps_old_chunks:
                    emptied.add(result.source)
            elif chunks:
                report.files += 1
                documents.append((result.source, chunks))
            else:
                _skip(report, SkippedFile(result.source, "no text to index", False))
                emptied.add(result.source)
            notify("read", done, len(files))
        kept = _Kept({source for source in present if source not in emptied}, folders)
        return documents, kept, listed

    async def _write(
        self, rows: list[_Row], options: IngestOptions, notify: ProgressCallback
    ) -> None:
        latent = self._latent if self._store.keeps_latent_terms else None
        done = {"embed": 0, "terms": 0}

        def advance(stage: str) -> Callable[[int], None]:
            def count(chunks: int) -> None:
                done[stage] += chunks
                notify(stage, done[stage], len(rows))

            return count

        for stage in done if latent else ("embed",):
            notify(stage, 0, len(rows))
        step = options.batch_size * 4
        for start in range(0, len(rows), step):
            batch = rows[start : start + step]
            chunks = [row.chunk for row in batch]
            texts = [chunk.indexed_text() for chunk in chunks]
            vectors = await chunk_vectors(
                chunks,
                texts,
                self._embedder,
                self._cache,
                latent,
                options.batch_size,
                advance("embed"),
                advance("terms"),
            )
            await self._store.upsert(
                [
                    StoredChunk(
                        id=row.id,
                        kb=options.knowledge_base,
                        source=row.source,
                        url=row.url,
                        title=row.chunk.title,
                        heading=row.chunk.heading,
                        position=row.chunk.position,
                        body=row.chunk.text,
                        text=text,
                        sections=row.chunk.sections,
                        dense=vector.text,
                        heading_dense=vector.heading,
                        latent=vector.latent,
                    )
                    for row, text, vector in zip(batch, texts, vectors, strict=True)
                ]
            )


class _Read(NamedTuple):
    """What a sync downloaded and read, before it takes the write lock."""

    existed: bool
    known: dict[str, Validators]
    roots: list[IngestRoot]
    documents: list[tuple[str, list[tuple[Chunk, str]]]]
    kept: _Kept
    listed: list[IngestRoot]


@dataclass(frozen=True)
class _Kept:
    """The sources whose stored chunks a sync keeps: those present, and everything under a
    folder that could not be listed."""

    sources: set[str]
    folders: list[SkippedFile]

    def keeps(self, source: str) -> bool:
        return source in self.sources or any(folder.covers(source) for folder in self.folders)


@dataclass(frozen=True)
class _Row:
    """A chunk to write, with its source, content id and link."""

    source: str
    chunk: Chunk
    id: str
    url: str


def _read_one(
    file: SourceFile | SkippedFile, options: IngestOptions
) -> tuple[Document | SkippedFile, list[tuple[Chunk, str]]]:
    """One file read and chunked; any failure of a parser on its content (nesting deeper than
    it can recurse, a library's own error) skips that file with the reason, never the run."""
    if isinstance(file, SkippedFile):
        return file, []
    if len(file.source.encode("utf-8")) > MAX_BYTES["source"]:
        reason = f"name longer than the store allows ({MAX_BYTES['source']} bytes)"
        return SkippedFile(file.source, reason, False), []
    try:
        result = read_document(file, options.max_file_bytes)
        if isinstance(result, SkippedFile):
            return result, []
        chunks = chunk_document(
            result, options.url_template, options.max_chars, options.overlap, options.min_chars
        )
        return result, chunks
    except RecursionError:
        return SkippedFile(file.source, "nested too deeply to parse"), []
    except Exception as exc:  # a parser's own error on hostile content: that file only
        log.debug("reading %s failed", file.source, exc_info=True)
        return SkippedFile(file.source, f"could not be parsed ({type(exc).__name__})"), []


def _skip(report: IngestReport, skipped: SkippedFile) -> None:
    report.skipped.append(skipped)
    log.info("skipped %s: %s", skipped.source, skipped.reason)
