"""Case 11: bad documents among good ones: each is skipped with a reason, the rest ingests."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from core.container import Helpbot
from core.models import Query
from tests.reliability.ledger import Ledger
from tests.support import write


def zip_bomb(path: Path) -> Path:
    """A small zip that declares 300 MB of text (zeros compress about 1000:1)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("docs/huge.md", b"0" * 300_000_000)
    path.write_bytes(buffer.getvalue())
    return path


async def test_bad_documents_are_skipped_with_reasons_and_the_rest_ingested(
    make_settings, tmp_path: Path, ledger: Ledger, sent: list[Any]
) -> None:
    docs = tmp_path / "docs"
    write(docs / "good.md", "# Backups\n\n## When do backups run?\n\nEvery night at two.\n")
    write(docs / "also-good.txt", "The on-call rota lives in the wiki.\n")
    bad = {
        "image.md": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8,
        "latin1.md": "# Caf\xe9\n\nna\xefve r\xe9sum\xe9\n".encode("latin-1"),
        "huge.md": b"# Huge\n\n" + b"word " * 2_000,
        "empty.md": b"",
        "broken.pdf": b"%PDF-1.7\nthis is not really a pdf\n%%EOF\n",
    }
    for name, data in bad.items():
        (docs / name).write_bytes(data)
    bomb = zip_bomb(tmp_path / "bomb.zip")
    with ledger.case("11. bad documents", tried=len(bad) + 1) as row:
        async with Helpbot(make_settings(max_file_bytes=8_000)) as bot:
            report = await bot.ingestor.sync([docs, bomb], bot.ingest_options())
            found = await bot.service.retrieve(Query("When do backups run?"))
        reasons = {skipped.source.rsplit("/", 1)[-1]: skipped.reason for skipped in report.skipped}
        row.lost = 2 - report.files  # good files not ingested
        assert row.lost == 0
        assert set(reasons) == {*bad, "bomb.zip"}
        assert all(reasons.values())
        assert "uncompressed" in reasons["bomb.zip"]
        assert found.relevant and found.relevant[0].source == "docs/good.md"
