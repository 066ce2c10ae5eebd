"""A zip can hold the same name twice: the last entry is read, as unzip and Python extract it,
and each earlier one is reported as skipped instead of failing the whole ingest."""

from __future__ import annotations

import asyncio
import io
import warnings
import zipfile
from pathlib import Path

from core.container import Helpbot
from core.ingest.files import SkippedFile
from core.ingest.zip_archive import zip_files


def zip_with(entries: list[tuple[str, str]]) -> bytes:
    """A zip holding the entries in this order, duplicated names included."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in entries:
                archive.writestr(name, content)
    return buffer.getvalue()


async def test_a_name_twice_in_a_zip_ingests_the_last_entry_and_skips_the_first(
    make_settings, tmp_path: Path
) -> None:
    archive = tmp_path / "handbook.zip"
    archive.write_bytes(
        zip_with(
            [
                ("oncall.md", "# On-call\n\nThe old rota lives on paper.\n"),
                ("intro.md", "# Intro\n\nThe handbook for the team.\n"),
                ("oncall.md", "# On-call\n\nThe rota lives in the wiki.\n"),
            ]
        )
    )
    async with Helpbot(make_settings()) as bot:
        report = await bot.ingestor.sync([archive], bot.ingest_options())
        found = await asyncio.to_thread(
            bot.store.client.query,
            bot.store.collection,
            filter='id != ""',
            output_fields=["source", "body"],
        )
    assert [(s.source, s.reason) for s in report.skipped] == [
        (
            "handbook/oncall.md (entry 1 of 2)",
            "the zip holds 2 entries named oncall.md; only the last one is read",
        )
    ]
    bodies = {row["source"]: row["body"] for row in found}
    assert set(bodies) == {"handbook/intro.md", "handbook/oncall.md"}
    assert "in the wiki" in bodies["handbook/oncall.md"]


def test_names_that_differ_only_in_spelling_count_as_the_same_file() -> None:
    # "./a.md", "a.md" and "docs\\b.md"/"docs//b.md" land on the same path once normalised.
    data = zip_with(
        [
            ("./a.md", "first a"),
            ("docs\\b.md", "first b"),
            ("a.md", "second a"),
            ("docs//b.md", "second b"),
            ("docs/b.md", "third b"),
        ]
    )
    listed = zip_files(data, "bundle", max_files=10, max_bytes=10_000)
    read = {f.source: f.load() for f in listed if not isinstance(f, SkippedFile)}
    skipped = [(f.source, f.reason) for f in listed if isinstance(f, SkippedFile)]
    assert read == {"bundle/a.md": b"second a", "bundle/docs/b.md": b"third b"}
    assert sorted(skipped) == [
        (
            "bundle/a.md (entry 1 of 2)",
            "the zip holds 2 entries named a.md; only the last one is read",
        ),
        (
            "bundle/docs/b.md (entry 1 of 3)",
            "the zip holds 3 entries named docs/b.md; only the last one is read",
        ),
        (
            "bundle/docs/b.md (entry 2 of 3)",
            "the zip holds 3 entries named docs/b.md; only the last one is read",
        ),
    ]


def test_an_unsafe_name_twice_is_reported_once_per_entry() -> None:
    data = zip_with([("../evil.md", "one"), ("../evil.md", "two"), ("ok.md", "fine")])
    listed = zip_files(data, "bundle", max_files=10, max_bytes=10_000)
    assert sorted((f.source, f.reason) for f in listed if isinstance(f, SkippedFile)) == [
        ("bundle/../evil.md", "unsafe path in zip"),
        ("bundle/../evil.md (entry 1 of 2)", "unsafe path in zip"),
    ]
