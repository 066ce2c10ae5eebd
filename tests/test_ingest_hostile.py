"""Ingesting folders that fight back: unreadable folders, symlinks, two folders of one name,
over-long names and crafted PDFs. Nothing stored is lost by mistake, nothing leaks in."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from core.container import Helpbot
from core.errors import BadInputError
from core.ingest.sync import IngestReport
from core.models import Query
from tests.support import BACKENDS, WITHOUT_OVERRIDES, write

HELPBOT = str(Path(sys.executable).with_name("helpbot"))


async def ingest(bot: Helpbot, *paths: Path, **options: object) -> IngestReport:
    return await bot.ingestor.sync(list(paths), replace(bot.ingest_options(), **options))


async def sources(bot: Helpbot) -> set[str]:
    return {ref.source for ref in await bot.store.chunk_refs()}


def ingest_in_a_process(docs: Path, env: dict[str, str], as_a_user: bool = False) -> dict:
    """`helpbot ingest --json` in a process of its own (Milvus Lite allows one per file), with
    `as_a_user`, one that file permissions apply to."""
    result = subprocess.run(
        [*(WITHOUT_OVERRIDES if as_a_user else []), HELPBOT, "ingest", "--json", str(docs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def settings_env(tmp_path: Path, embedding_cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MILVUS_URI": str(tmp_path / "milvus.db"),
        "EMBEDDING_CACHE_PATH": str(embedding_cache),
    }


@pytest.fixture
def handbook(tmp_path: Path) -> Path:
    docs = tmp_path / "a" / "handbook"
    write(docs / "intro.md", "# Intro\n\nThe handbook explains how backups run.\n")
    write(docs / "ops" / "restore.md", "# Restore\n\nRestore a snapshot with the backup tool.\n")
    return docs


@pytest.mark.parametrize("locked", ["ops", "."])
def test_an_unreadable_folder_keeps_its_chunks_and_is_reported(
    settings_env: dict[str, str], handbook: Path, locked: str
) -> None:
    """`chmod 000` on a subfolder, or on the folder given: it is named, and once it can be
    read again every chunk it had is still there (the next sync finds them unchanged)."""
    first = ingest_in_a_process(handbook, settings_env)
    folder = handbook / locked
    folder.chmod(0)
    try:
        report = ingest_in_a_process(handbook, settings_env, as_a_user=True)
    finally:
        folder.chmod(0o755)
    assert report["chunks_deleted"] == report["files_deleted"] == 0
    expected = "handbook/ops" if locked == "ops" else "handbook"
    assert [(s["source"], "unreadable folder" in s["reason"]) for s in report["skipped"]] == [
        (expected, True)
    ]
    again = ingest_in_a_process(handbook, settings_env)
    assert again["chunks_unchanged"] == first["chunks_added"] == 2
    assert again["chunks_added"] == again["chunks_deleted"] == 0


async def test_a_symlinked_path_is_named_as_given_and_repointing_it_replaces(
    make_settings, tmp_path: Path
) -> None:
    """`docs/current -> v42`, then `-> v43`: the scope is `current` both times, so v42's
    passages go when v43 replaces it."""
    write(tmp_path / "v42" / "old.md", "# Old\n\nVersion 42 stored data on local disk.\n")
    write(tmp_path / "v43" / "new.md", "# New\n\nVersion 43 stores data in object storage.\n")
    current = tmp_path / "docs" / "current"
    current.parent.mkdir()
    current.symlink_to(tmp_path / "v42")
    async with Helpbot(make_settings()) as bot:
        await ingest(bot, current)
        assert await sources(bot) == {"current/old.md"}
        current.unlink()
        current.symlink_to(tmp_path / "v43")
        report = await ingest(bot, current)
        assert await sources(bot) == {"current/new.md"}
    assert report.files_deleted == 1


@pytest.mark.parametrize("milvus_backend", BACKENDS, indirect=True)
async def test_a_folder_of_the_same_name_from_elsewhere_is_refused_unless_replaced(
    make_settings, tmp_path: Path, handbook: Path
) -> None:
    other = tmp_path / "b" / "handbook"
    write(other / "travel.md", "# Travel\n\nBook trains through the travel desk.\n")
    async with Helpbot(make_settings()) as bot:
        await ingest(bot, handbook)
        before = await sources(bot)
        with pytest.raises(BadInputError) as refused:
            await ingest(bot, other)
        assert str(handbook) in str(refused.value) and "--replace" in str(refused.value)
        assert await sources(bot) == before
        await ingest(bot, handbook)  # the same folder again is no conflict
        report = await ingest(bot, other, replace=True)
        assert await sources(bot) == {"handbook/travel.md"}
        assert report.files_deleted == 2
        with pytest.raises(BadInputError):  # the record now names the replacement
            await ingest(bot, handbook)
        # Another knowledge base is another record.
        await ingest(bot, handbook, knowledge_base="other")


async def test_symlinks_out_of_the_folder_are_not_followed(make_settings, tmp_path: Path) -> None:
    secret = write(tmp_path / "private" / "notes.md", "# Notes\n\nThe vault code is 4711.\n")
    docs = tmp_path / "docs"
    write(docs / "guide.md", "# Guide\n\nBackups run nightly.\n")
    (docs / "leak.md").symlink_to(secret)
    (docs / "alias.md").symlink_to(docs / "guide.md")  # inside the folder: read
    (docs / "elsewhere").symlink_to(tmp_path / "private", target_is_directory=True)
    async with Helpbot(make_settings()) as bot:
        report = await ingest(bot, docs)
        assert await sources(bot) == {"docs/guide.md", "docs/alias.md"}
    reasons = {s.source: s.reason for s in report.skipped}
    assert "outside the folder" in reasons["docs/leak.md"]
    assert "not followed" in reasons["docs/elsewhere"]


async def test_over_long_titles_headings_and_names_spare_the_other_files(
    make_settings, tmp_path: Path
) -> None:
    """Milvus refuses a row whose field is over its limit: one such file once failed the
    whole sync. Long labels are cut; a name too long to store skips only its file."""
    docs = tmp_path / "docs"
    write(docs / "guide.md", "# Guide\n\nBackups run nightly.\n")
    write(docs / "heading.md", "# " + "Very long heading " * 1000 + "\n\nText under it.\n")
    write(docs / "title.md", "---\ntitle: " + "T" * 20_000 + "\n---\n\nBody text.\n")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("long/" + "n" * 5000 + ".md", "# Hidden\n\nText.\n")
        bundle.writestr("short.md", "# Short\n\nZipped text.\n")
    (tmp_path / "bundle.zip").write_bytes(archive.getvalue())
    async with Helpbot(make_settings()) as bot:
        report = await ingest(bot, docs, tmp_path / "bundle.zip")
        stored = await sources(bot)
        hits = (await bot.service.retrieve(Query("Text under it"), limit=10)).hits
    assert stored == {"docs/guide.md", "docs/heading.md", "docs/title.md", "bundle/short.md"}
    assert [s.reason for s in report.skipped] == ["name longer than the store allows (4096 bytes)"]
    assert all(len(hit.heading) <= 300 and len(hit.title) <= 300 for hit in hits)


def crafted_pdf(pages: int, operators: int) -> bytes:
    """A small PDF whose pages all share one large content stream."""
    writer = PdfWriter()
    font = {"/Type": "/Font", "/Subtype": "/Type1", "/BaseFont": "/Helvetica"}
    fonts = DictionaryObject({NameObject("/F1"): _pdf_dictionary(font)})
    resources = DictionaryObject({NameObject("/Font"): fonts})
    content = DecodedStreamObject()
    content.set_data(b"BT /F1 12 Tf 72 700 Td " + b"(hello world) Tj 0 -14 Td " * operators + b"ET")
    shared = writer._add_object(content.flate_encode())
    for _ in range(pages):
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = resources
        page[NameObject("/Contents")] = shared
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _pdf_dictionary(values: dict[str, str]) -> DictionaryObject:
    return DictionaryObject({NameObject(k): NameObject(v) for k, v in values.items()})


async def test_a_pdf_whose_pages_share_a_huge_content_stream_is_skipped(
    make_settings, tmp_path: Path
) -> None:
    """55 KB that pypdf would parse as 780 MB (7 s a page here): refused before parsing."""
    docs = tmp_path / "docs"
    write(docs / "guide.md", "# Guide\n\nBackups run nightly.\n")
    (docs / "crafted.pdf").write_bytes(crafted_pdf(pages=300, operators=100_000))
    assert len((docs / "crafted.pdf").read_bytes()) < 100_000
    async with Helpbot(make_settings()) as bot:
        report = await ingest(bot, docs)
        assert await sources(bot) == {"docs/guide.md"}
    assert [s.source for s in report.skipped] == ["docs/crafted.pdf"]
    assert "once decoded" in report.skipped[0].reason
