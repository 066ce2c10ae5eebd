"""HTML, PDF, zips and web pages are ingested like Markdown: headed chunks, sources, links, sync."""

from __future__ import annotations

import asyncio
import io
import socket
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from fpdf import FPDF

from core.container import Helpbot
from core.errors import BadInputError
from core.ingest.sources import url_source
from core.ingest.sync import IngestReport
from core.models import Query
from tests.support import write

STORAGE_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<title>Storage | Example Docs</title></head><body>
<header class="site"><a href="/">Example Docs</a></header>
<nav><a href="/">Home</a> <a href="/blog">Blog</a></nav>
<main><article>
<h1>Storage<a class="headerlink" href="#storage">¶</a></h1>
<p>Milvus keeps segments in object storage.</p>
<h2>Where is data kept?</h2><p>Segments are kept in MinIO or S3; metadata lives in etcd.</p>
<h2>Backups</h2><p>Snapshots are taken nightly by the backup tool.</p>
<pre><code># not a heading
milvus-backup create</code></pre>
</article><aside class="toc">On this page</aside></main>
<footer>Copyright 2024 Example Inc.</footer>
</body></html>"""


def pdf_bytes(*pages: str, title: str | None = None, password: str | None = None) -> bytes:
    """A real PDF with one page per text; an empty text makes a page with only a drawing."""
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
        else:
            pdf.rect(20, 20, 100, 100, style="F")
    if password:
        pdf.set_encryption(owner_password="owner", user_password=password)
    return bytes(pdf.output())


MANUAL_PDF = pdf_bytes(
    "Install the backup tool with pip install milvus-backup.",
    "Restore a snapshot with milvus-backup restore.",
    title="Operations manual",
)


def zip_bytes(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


BUNDLE = {
    "intro.md": "# Intro\n\nThe bundle explains partitions.\n",
    "guide/limits.md": "# Limits\n\nA collection holds up to 1024 partitions.\n",
}


class DocServer:
    """Serves canned files on 127.0.0.1 (an ephemeral port); anything else is a 404."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.redirects: dict[str, str] = {}
        self.requests: list[str] = []
        self._host = host
        self._runner: web.AppRunner | None = None
        self._port = 0

    def serve(self, path: str, body: str | bytes, content_type: str) -> str:
        self.files[path] = (body.encode() if isinstance(body, str) else body, content_type)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://{self._host}:{self._port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        if request.path in self.redirects:
            raise web.HTTPFound(self.redirects[request.path])
        if request.path == "/slow":
            await asyncio.sleep(1)
        if request.path not in self.files:
            raise web.HTTPNotFound()
        body, content_type = self.files[request.path]
        return web.Response(body=body, content_type=content_type)

    async def __aenter__(self) -> DocServer:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[DocServer]:
    async with DocServer() as running:
        yield running


async def ingest(bot: Helpbot, *inputs: str | Path, **options: Any) -> IngestReport:
    url = options.pop("url", None)
    return await bot.ingestor.sync(list(inputs), replace(bot.ingest_options(None, url), **options))


async def rows(bot: Helpbot) -> list[dict[str, Any]]:
    """Every stored chunk's source, url, title, heading and body, in source then chunk order."""
    found = await asyncio.to_thread(
        bot.store.client.query,
        bot.store.collection,
        filter='id != ""',
        output_fields=["source", "url", "title", "heading", "position", "body"],
    )
    return sorted(found, key=lambda row: (row["source"], row["position"]))


def for_source(found: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    return [row for row in found if row["source"] == source]


async def test_html_file_is_chunked_by_its_headings_without_site_chrome(
    make_settings, docs
) -> None:
    write(docs / "storage.html", STORAGE_PAGE)
    write(
        docs / "notes.htm",
        "<html><head><title>Release notes</title></head>"
        "<body><p>Version 2.4 adds sparse vectors.</p></body></html>",
    )
    async with Helpbot(make_settings()) as bot:
        report = await ingest(bot, docs)
        found = await rows(bot)
    assert not report.skipped
    page = for_source(found, "docs/storage.html")
    assert [(r["title"], r["heading"]) for r in page] == [
        ("Storage", "Storage"),
        ("Storage", "Where is data kept?"),
        ("Storage", "Backups"),
    ]
    text = "\n".join(r["body"] for r in page)
    assert "MinIO or S3" in text and "# not a heading\nmilvus-backup create" in text
    for chrome in ("Home", "Blog", "Example Docs", "Copyright", "On this page", "¶"):
        assert chrome not in text
    [notes] = for_source(found, "docs/notes.htm")
    assert (notes["title"], notes["body"]) == ("Release notes", "Version 2.4 adds sparse vectors.")


async def test_pdf_chunks_are_headed_and_linked_by_page(make_settings, docs) -> None:
    (docs / "manual.pdf").write_bytes(MANUAL_PDF)
    async with Helpbot(make_settings()) as bot:
        await ingest(bot, docs, url="https://docs.example.com/{source}")
        found = for_source(await rows(bot), "docs/manual.pdf")
        answer = await bot.service.answer(Query("How do I restore a snapshot?"))
    assert [(r["title"], r["heading"], r["url"]) for r in found] == [
        ("Operations manual", "Page 1", "https://docs.example.com/docs/manual.pdf#page=1"),
        ("Operations manual", "Page 2", "https://docs.example.com/docs/manual.pdf#page=2"),
    ]
    assert "milvus-backup restore" in found[1]["body"]
    top = answer.sources[0]
    assert (top.source, top.heading) == ("docs/manual.pdf", "Page 2")


async def test_unreadable_pdfs_are_skipped_with_a_reason(make_settings, docs) -> None:
    (docs / "scanned.pdf").write_bytes(pdf_bytes("", ""))
    (docs / "locked.pdf").write_bytes(pdf_bytes("Secret plans.", password="s3cret"))
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a PDF")
    async with Helpbot(make_settings()) as bot:
        report = await ingest(bot, docs)
    reasons = {s.source: s.reason for s in report.skipped}
    assert reasons["docs/scanned.pdf"] == "no extractable text (a scanned PDF?)"
    assert reasons["docs/locked.pdf"] == "encrypted PDF (needs a password)"
    assert reasons["docs/broken.pdf"].startswith("not a readable PDF (")
    assert len(reasons) == 3 and report.files == 3


async def test_web_page_and_pdf_are_stored_by_host_and_path_and_linked_to_their_urls(
    make_settings, server
) -> None:
    page_url = server.serve("/docs/storage.html", STORAGE_PAGE, "text/html")
    # No extension: the Content-Type says it is a PDF.
    pdf_url = server.serve("/files/manual", MANUAL_PDF, "application/pdf")
    host = page_url.split("/")[2]
    async with Helpbot(make_settings()) as bot:
        report = await ingest(bot, page_url + "#backups", pdf_url)
        found = await rows(bot)
        answer = await bot.service.answer(Query("Where are segments kept? MinIO or S3?"))
    assert report.files == 2 and not report.skipped
    page = for_source(found, f"{host}/docs/storage.html")
    assert [r["heading"] for r in page] == ["Storage", "Where is data kept?", "Backups"]
    assert {r["url"] for r in page} == {page_url}
    assert [r["url"] for r in for_source(found, f"{host}/files/manual")] == [
        f"{pdf_url}#page=1",
        f"{pdf_url}#page=2",
    ]
    top = answer.sources[0]
    assert (top.source, top.heading, top.url) == (
        f"{host}/docs/storage.html",
        "Where is data kept?",
        page_url,
    )


async def test_url_template_overrides_a_pages_own_link(make_settings, server) -> None:
    page_url = server.serve("/docs/storage.html", STORAGE_PAGE, "text/html")
    async with Helpbot(make_settings()) as bot:
        await ingest(bot, page_url, url="https://mirror.example.com/{stem}")
        found = await rows(bot)
    assert {r["url"] for r in found} == {"https://mirror.example.com/storage"}


async def test_zip_from_a_url_is_a_folder_named_after_it_and_resyncs(make_settings, server) -> None:
    url = server.serve("/downloads/bundle.zip", zip_bytes(BUNDLE), "application/zip")
    async with Helpbot(make_settings()) as bot:
        first = await ingest(bot, url)
        assert {r["source"] for r in await rows(bot)} == {
            "bundle/intro.md",
            "bundle/guide/limits.md",
        }
        assert {r["url"] for r in await rows(bot)} == {""}
        server.serve("/downloads/bundle.zip", zip_bytes({"intro.md": BUNDLE["intro.md"]}), "")
        second = await ingest(bot, url)
        assert {r["source"] for r in await rows(bot)} == {"bundle/intro.md"}
    assert first.files == 2
    assert (second.files_deleted, second.chunks_deleted, second.chunks_unchanged) == (1, 1, 1)


async def test_zip_entries_that_would_escape_are_skipped(make_settings, tmp_path) -> None:
    archive = tmp_path / "handbook.zip"
    archive.write_bytes(
        zip_bytes(
            {
                "../evil.md": "# Evil\n\nOverwrites your files.\n",
                "/etc/evil.md": "# Evil\n\nAbsolute path.\n",
                ".hidden/secret.md": "# Hidden\n\nNot for the index.\n",
                "oncall.md": "# On-call\n\nThe rota lives in the wiki.\n",
            }
        )
    )
    async with Helpbot(make_settings()) as bot:
        report = await ingest(bot, archive)
        found = await rows(bot)
    assert {s.source: s.reason for s in report.skipped} == {
        "handbook/../evil.md": "unsafe path in zip",
        "handbook//etc/evil.md": "unsafe path in zip",
    }
    assert [r["source"] for r in found] == ["handbook/oncall.md"]
    assert not (tmp_path / "evil.md").exists()


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        ({"max_zip_bytes": 300}, "larger than the zip limit (527 > 300 bytes)"),
        ({"max_zip_files": 2}, "zip holds 3 files, more than 2"),
        ({"max_zip_bytes": 2000}, "zip holds 100043 bytes uncompressed, more than 2000"),
    ],
)
async def test_a_zip_over_a_limit_is_skipped_and_keeps_its_chunks(
    make_settings, tmp_path, limits, reason
) -> None:
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(zip_bytes(BUNDLE))
    async with Helpbot(make_settings()) as bot:
        await ingest(bot, archive)
        before = await rows(bot)
        # Mostly zeros: small compressed, large once inflated, as a zip bomb is.
        archive.write_bytes(zip_bytes({**BUNDLE, "padding.txt": "x" + "\0" * 99_949}))
        report = await ingest(bot, archive, **limits)
        assert await rows(bot) == before
    assert [(s.source, s.reason) for s in report.skipped] == [("bundle.zip", reason)]
    assert not report.changed


async def test_oversized_download_is_skipped_and_keeps_its_chunks(make_settings, server) -> None:
    url = server.serve("/docs/storage.html", STORAGE_PAGE, "text/html")
    zip_url = server.serve("/bundle.zip", zip_bytes(BUNDLE), "application/zip")
    async with Helpbot(make_settings()) as bot:
        await ingest(bot, url, zip_url)
        before = await rows(bot)
    server.serve("/docs/storage.html", STORAGE_PAGE + " " * 5000, "text/html")
    async with Helpbot(make_settings(max_file_bytes=1000)) as bot:
        report = await ingest(bot, url, zip_url, max_zip_bytes=100)
        assert await rows(bot) == before
    host = url.split("/")[2]
    assert {s.source: s.reason for s in report.skipped} == {
        f"{host}/docs/storage.html": "download larger than MAX_FILE_BYTES (1000 bytes)",
        f"{host}/bundle.zip": "download larger than the zip limit (100 bytes)",
    }


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/missing.html", r"could not download http://127\.0\.0\.1:\d+/missing\.html: HTTP 404"),
        ("/slow", r"could not download http://127\.0\.0\.1:\d+/slow: no answer within 0\.3 s"),
        (None, r"could not download http://127\.0\.0\.1:\d+/docs\.html: Cannot connect"),
    ],
)
async def test_a_bad_url_is_a_clear_error_and_nothing_is_written(
    make_settings, docs, server, path, message
) -> None:
    url = server.url(path) if path else f"http://127.0.0.1:{closed_port()}/docs.html"
    async with Helpbot(make_settings()) as bot:
        with pytest.raises(BadInputError, match=message):
            await ingest(bot, str(docs), url, download_timeout_s=0.3)
        assert not await bot.store.exists()


async def test_redirects_are_followed_on_the_same_host_only(make_settings, server) -> None:
    """A page that redirects to another host (here a loopback address standing in for a
    cloud metadata service) is refused, and that host is never asked."""
    server.serve("/new.html", STORAGE_PAGE, "text/html")
    server.redirects["/old.html"] = "/new.html"
    async with DocServer("127.0.0.2") as metadata:
        metadata.serve("/latest/meta-data", "# Credentials\n\nsecret-role-key\n", "text/markdown")
        server.redirects["/moved.html"] = metadata.url("/latest/meta-data")
        async with Helpbot(make_settings()) as bot:
            await ingest(bot, server.url("/old.html"))
            with pytest.raises(BadInputError, match="redirects to another host"):
                await ingest(bot, server.url("/moved.html"))
            found = await rows(bot)
        assert metadata.requests == []
    assert {row["source"] for row in found} == {url_source(server.url("/old.html"))}


async def test_credentials_in_a_url_are_never_stored_or_shown(make_settings, server) -> None:
    page = server.serve("/private.md", "# Private\n\nThe team handbook.\n", "text/markdown")
    with_password = page.replace("http://", "http://reader:s3cret-pass@")
    async with Helpbot(make_settings()) as bot:
        await ingest(bot, with_password)
        with pytest.raises(BadInputError) as missing:
            await ingest(bot, with_password.replace("private", "missing"))
        found = await rows(bot)
    assert found and all("s3cret" not in str(row) for row in found)
    assert found[0]["url"] == page
    assert "s3cret" not in str(missing.value) and "404" in str(missing.value)
