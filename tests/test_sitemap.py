"""A docs site by its sitemap: every page it lists on its host is ingested, an unchanged page
is asked for with its validators and answers 304 (not downloaded, not embedded), a changed
one is updated and one gone from the sitemap is deleted."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.container import Helpbot
from core.ingest.live_sync import LiveSync
from core.ingest.sources_file import DEFAULT_REFRESH_S, SourceSpec
from core.ingest.sources_sync import SourceOutcome, sync_source, sync_sources
from core.models import Query
from tests.standins.docs_site import Site, page
from tests.support import write


def two_pages(site: Site, refresh_s: float = DEFAULT_REFRESH_S) -> SourceSpec:
    """The site with a backups page and a restore page listed; a source of it."""
    site.pages = {
        "/backups.html": page("Backups", "Backups run every night at two."),
        "/restore.html": page("Restore", "Restore a snapshot with the backup tool."),
    }
    site.listed = ["/backups.html", "/restore.html"]
    return SourceSpec("default", "sitemap", site.url("/sitemap.xml"), refresh_s=refresh_s)


async def sources(bot: Helpbot) -> set[str]:
    return {ref.source for ref in await bot.store.chunk_refs()}


async def test_a_sitemap_is_synced_with_conditional_requests(make_settings, site: Site) -> None:
    spec = two_pages(site, refresh_s=3600)
    host = f"127.0.0.1:{site.port}"
    async with Helpbot(make_settings()) as bot:
        await sync(bot, spec)
        assert await sources(bot) == {f"{host}/backups.html", f"{host}/restore.html"}

        second = await sync(bot, spec)
        assert site.answers["/backups.html", 304] == site.answers["/restore.html", 304] == 1
        assert second.report is not None
        assert second.report.files_not_modified == 2
        assert (second.report.chunks_added, second.report.chunks_updated) == (0, 0)
        assert second.report.chunks_unchanged == 0  # nothing was even read

        site.pages["/restore.html"] = page("Restore", "Restore with milvus-backup restore.")
        site.listed.remove("/backups.html")
        third = await sync(bot, spec)
        assert await sources(bot) == {f"{host}/restore.html"}
        assert set(await bot.store.page_versions("default")) == {site.url("/restore.html")}
        found = (await bot.service.retrieve(Query("milvus-backup restore"), limit=5)).hits
    assert third.report is not None and third.report.files_deleted == 1
    assert site.answers["/restore.html", 200] == 2
    assert any("milvus-backup restore" in hit.body for hit in found)
    assert not any(path.startswith("http://elsewhere") for path, _ in site.answers)


async def sync(bot: Helpbot, spec: SourceSpec) -> SourceOutcome:
    outcome = await sync_source(bot.ingestor, spec, bot.ingest_options, bot.settings.git_cache_dir)
    assert outcome.ok, outcome.error
    return outcome


async def test_a_restarted_bot_still_asks_with_the_validators_of_its_last_sync(
    make_settings, site: Site
) -> None:
    """`helpbot sync` from cron, or `serve` after a restart: the validators are kept with
    the knowledge base, so an unchanged site costs a 304 per page and no embedding."""
    site.pages = {"/backups.html": page("Backups", "Backups run every night at two.")}
    site.listed = ["/backups.html"]
    spec = SourceSpec("default", "sitemap", site.url("/sitemap.xml"))
    settings = make_settings()
    async with Helpbot(settings) as bot:
        await sync(bot, spec)
    async with Helpbot(settings) as bot:
        again = await sync(bot, spec)
    assert site.answers["/backups.html", 200] == 1 and site.answers["/backups.html", 304] == 1
    assert again.report is not None and again.report.files_not_modified == 1
    assert not again.report.changed


async def test_a_forgotten_page_is_downloaded_again_at_the_next_sync(
    make_settings, site: Site
) -> None:
    """Its validators would get a 304 and keep nothing: a page without chunks is asked for
    whole."""
    spec = two_pages(site)
    host = f"127.0.0.1:{site.port}"
    async with Helpbot(make_settings()) as bot:
        await sync(bot, spec)
        await bot.ingestor.forget("default", [f"{host}/restore.html"])
        assert await sources(bot) == {f"{host}/backups.html"}
        await sync(bot, spec)
        assert await sources(bot) == {f"{host}/backups.html", f"{host}/restore.html"}
        assert len(await bot.store.page_versions("default")) == 2
        await bot.ingestor.forget("default", [])  # the whole knowledge base
        assert await bot.store.page_versions("default") == {}
    assert site.answers["/restore.html", 200] == 2
    assert site.answers["/backups.html", 304] == 1


async def test_a_page_with_nothing_to_index_costs_a_304_like_any_other(
    make_settings, site: Site, tmp_path
) -> None:
    """A page with no text (an empty tag index) has no chunks, but it is not downloaded again
    at each refresh, also after another source of its knowledge base has synced."""
    site.pages = {
        "/backups.html": page("Backups", "Backups run every night at two."),
        "/tags.html": "<html><head><title>Tags</title></head><body></body></html>",
    }
    site.listed = ["/backups.html", "/tags.html"]
    spec = SourceSpec("default", "sitemap", site.url("/sitemap.xml"))
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "drills.md").write_text("# Drills\n\nRestore drills run every month.\n")
    async with Helpbot(make_settings()) as bot:
        await sync(bot, spec)
        assert await sources(bot) == {f"127.0.0.1:{site.port}/backups.html"}
        await bot.ingestor.sync([notes], bot.ingest_options())
        again = await sync(bot, spec)
    assert site.answers["/tags.html", 200] == 1 and site.answers["/tags.html", 304] == 1
    assert again.report is not None and not again.report.changed


async def test_a_site_taken_out_of_the_sources_file_and_put_back_is_downloaded_again(
    make_settings, site: Site
) -> None:
    """Its chunks went with it, so its pages are asked for whole, not with the validators
    that would answer 304 and leave it empty."""
    site.pages = {"/backups.html": page("Backups", "Backups run every night at two.")}
    site.listed = ["/backups.html"]
    spec = SourceSpec("default", "sitemap", site.url("/sitemap.xml"))
    async with Helpbot(make_settings()) as bot:
        for specs in ([spec], [], [spec]):
            await sync_sources(bot.ingestor, specs, bot.ingest_options, bot.settings.git_cache_dir)
        assert await sources(bot) == {f"127.0.0.1:{site.port}/backups.html"}
    assert site.answers["/backups.html", 200] == 2


async def test_a_dead_page_keeps_its_chunks_and_does_not_hold_back_the_site(
    make_settings, site: Site
) -> None:
    """A page the sitemap lists but the server no longer serves (404) is skipped and keeps
    what it had; the pages that changed meanwhile are still synced. A site where no page
    can be downloaded is a failing source, its chunks kept."""
    spec = two_pages(site)
    host = f"127.0.0.1:{site.port}"
    async with Helpbot(make_settings()) as bot:
        await sync(bot, spec)
        del site.pages["/backups.html"]
        site.pages["/restore.html"] = page("Restore", "Restore with milvus-backup restore.")
        partly = await sync(bot, spec)
        found = (await bot.service.retrieve(Query("milvus-backup restore"), limit=5)).hits
        kept = await sources(bot)
        site.pages.clear()
        down = await sync_source(bot.ingestor, spec, bot.ingest_options, bot.settings.git_cache_dir)
        after = await sources(bot)
    assert partly.report is not None
    assert [s.source for s in partly.report.skipped] == [f"{host}/backups.html"]
    assert "HTTP 404" in partly.report.skipped[0].reason
    assert any("milvus-backup restore" in hit.body for hit in found)
    assert kept == after == {f"{host}/backups.html", f"{host}/restore.html"}
    assert not down.ok and "HTTP 404" in str(down.error)


async def test_a_slow_site_holds_up_no_other_writer(
    make_settings, site: Site, tmp_path: Path
) -> None:
    """A sync downloads before it takes the write lock: while a slow site's pages come in,
    an ingest of a folder is written and done (it waited for the whole download before)."""
    spec = two_pages(site)
    site.page_delay_s = 3.0
    notes = write(tmp_path / "notes" / "travel.md", "# Travel\n\nBook trains early.\n").parent
    async with Helpbot(make_settings()) as bot:
        slow = asyncio.create_task(sync(bot, spec))
        await asyncio.sleep(0.5)  # its first page is being waited for
        report = await bot.ingestor.sync([notes], bot.ingest_options())
        site_still_loading = not slow.done()
        await slow
        stored = await sources(bot)
    assert report.chunks_added == 1 and site_still_loading
    assert stored == {
        "notes/travel.md",
        *(f"127.0.0.1:{site.port}/{p}.html" for p in ("backups", "restore")),
    }


async def test_a_page_limit_caps_the_pages_and_a_broken_sitemap_keeps_everything(
    make_settings, site: Site
) -> None:
    site.pages = {f"/p{n}.html": page(f"Page {n}", f"Text number {n}.") for n in range(5)}
    site.listed = sorted(site.pages)
    spec = SourceSpec("default", "sitemap", site.url("/sitemap.xml"), max_pages=3)
    async with Helpbot(make_settings()) as bot:
        await sync(bot, spec)
        assert len(await sources(bot)) == 3
        broken = SourceSpec("default", "sitemap", site.url("/p0.html"))
        outcome = await sync_source(
            bot.ingestor, broken, bot.ingest_options, bot.settings.git_cache_dir
        )
        assert len(await sources(bot)) == 3
    assert not outcome.ok and "is not a sitemap" in str(outcome.error)


async def test_live_sync_refreshes_a_sitemap_on_its_interval(make_settings, site: Site) -> None:
    """What `serve` runs: a changed page is answerable at the next refresh, without a
    restart, and the unchanged one costs a 304 each time."""
    spec = two_pages(site, refresh_s=0.2)
    stop = asyncio.Event()
    async with Helpbot(make_settings()) as bot:
        live = LiveSync(bot.ingestor, [spec], bot.ingest_options, bot.settings.git_cache_dir)
        running = asyncio.create_task(live.run(stop))
        await asyncio.wait_for(live.first_sync_done.wait(), 30)
        site.pages["/restore.html"] = page("Restore", "Restore with milvus-backup restore.")
        for _ in range(100):
            found = (await bot.service.retrieve(Query("milvus-backup restore"), limit=5)).hits
            if any("milvus-backup restore" in hit.body for hit in found):
                break
            await asyncio.sleep(0.1)
        stop.set()
        await running
    assert any("milvus-backup restore" in hit.body for hit in found)
    assert site.answers["/backups.html", 200] == 1 and site.answers["/backups.html", 304] >= 1
    assert live.checks() == {f"source {spec.origin}": "ok"}
