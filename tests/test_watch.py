"""`helpbot ingest --watch`: a knowledge base that follows its folder, observed the way an
operator would, through /metrics, and then through the answers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bots.cli import IngestCommand, Listening, run_ingest
from bots.cli.running import HealthOptions
from core.answering.service import Retrieval
from core.container import Helpbot
from core.errors import BadInputError
from core.ingest.live_sync import LiveSync
from core.ingest.sources_file import SourceSpec
from core.models import Query
from core.settings import Settings
from tests.milvus_servers.servers import MilvusServer
from tests.support import http_get, write

RUNBOOK = "# Runbook\n\n## Paging\n\nThe pager rota is in Opsgenie.\n"
BACKUPS = "# Backups\n\n## Restores\n\nRestores are tested on Fridays.\n"


def watch_command(docs: Path) -> IngestCommand:
    return IngestCommand((str(docs),), watch=True, health=HealthOptions(0, "127.0.0.1"))


async def ingest_runs(health: str) -> dict[str, float]:
    _, text = await http_get(f"{health}/metrics")
    return {
        sample.labels["result"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "helpbot_ingest_runs_total"
    }


async def until_runs(health: str, ok: int) -> None:
    async with asyncio.timeout(30):
        while (await ingest_runs(health)).get("ok", 0) < ok:
            await asyncio.sleep(0.1)


async def watching(settings: Settings, command: IngestCommand) -> tuple[asyncio.Task[int], str]:
    """`helpbot ingest --watch` started, its first sync done: the task and its health URL."""
    listening = Listening()
    watcher = asyncio.create_task(run_ingest(settings, command, listening))
    await asyncio.wait_for(listening.ready.wait(), 30)
    health = f"http://127.0.0.1:{listening.ports['health']}"
    await until_runs(health, 1)
    return watcher, health


async def test_watch_syncs_every_change_until_stopped(docs: Path, make_settings) -> None:
    settings = make_settings()
    watcher, health = await watching(settings, watch_command(docs))

    write(docs / "runbook.md", "# Runbook\n\n## Paging\n\nThe pager rotation is set in Opsgenie.\n")
    (docs / "notes.txt").unlink()
    await until_runs(health, 2)
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(watcher, 15) == 0

    async with Helpbot(settings) as bot:
        found = await bot.service.retrieve(Query("Who sets the pager rotation?"))
        sources = {hit.source for hit in found.hits}
    assert found.relevant and found.relevant[0].source == "docs/runbook.md"
    assert "docs/notes.txt" not in sources


async def test_watch_tries_a_failed_sync_again_without_another_change(
    docs: Path, tmp_path: Path, make_settings
) -> None:
    server = MilvusServer("milvus-lite", tmp_path / "milvus")
    server.start()
    try:
        settings = make_settings(milvus_uri=server.uri, milvus_collection="watch_retries")
        command = replace(watch_command(docs), retry_s=0.5)
        watcher, health = await watching(settings, command)
        server.stop()
        write(docs / "runbook.md", RUNBOOK)
        async with asyncio.timeout(30):
            while not (await ingest_runs(health)).get("failed"):
                await asyncio.sleep(0.1)
        server.start()
        await until_runs(health, 2)
        os.kill(os.getpid(), signal.SIGTERM)
        assert await asyncio.wait_for(watcher, 15) == 0
        async with Helpbot(settings) as bot:
            found = await bot.service.retrieve(Query("Who keeps the pager rota?"))
    finally:
        server.stop()
    assert found.relevant and found.relevant[0].source == "docs/runbook.md"


async def test_watch_follows_a_folder_replaced_under_it(tmp_path: Path, make_settings) -> None:
    """`rm -rf docs && git clone ...` beside `ingest --watch`: the new folder is watched in
    place of the old one (as `serve` does), so a later edit in it is synced."""
    docs = tmp_path / "docs"
    write(docs / "runbook.md", RUNBOOK)
    settings = make_settings()
    watcher, health = await watching(settings, watch_command(docs))
    shutil.rmtree(docs)
    write(docs / "runbook.md", RUNBOOK)
    await asyncio.sleep(5)  # the replacement is seen, and the new folder watched
    runs = (await ingest_runs(health)).get("ok", 0)
    write(docs / "backups.md", BACKUPS)
    await until_runs(health, int(runs) + 1)
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(watcher, 15) == 0
    async with Helpbot(settings) as bot:
        found = await bot.service.retrieve(Query("When are restores tested?"))
    assert found.relevant and found.relevant[0].source == "docs/backups.md"


async def test_watch_refuses_urls(docs: Path, make_settings) -> None:
    command = IngestCommand(("https://example.test/docs.zip",), watch=True)
    with pytest.raises(BadInputError, match="local files and folders"):
        await run_ingest(make_settings(), command)


async def test_watch_refuses_a_path_that_does_not_exist(
    docs: Path, tmp_path: Path, make_settings
) -> None:
    """Said at once, before any sync, instead of "watching" and then a crash."""
    command = IngestCommand((str(docs), str(tmp_path / "typo")), watch=True)
    settings = make_settings()
    with pytest.raises(BadInputError, match=f"exist: no {tmp_path / 'typo'}"):
        await run_ingest(settings, command)
    assert not Path(settings.milvus_uri).exists()  # nothing opened, nothing synced


@contextlib.asynccontextmanager
async def following(bot: Helpbot, spec: SourceSpec, retry_s: float) -> AsyncIterator[LiveSync]:
    """`serve`'s live sync of one source, its first sync done, running until the block ends."""
    live = LiveSync(
        bot.ingestor, [spec], bot.ingest_options, bot.settings.git_cache_dir, retry_s=retry_s
    )
    stop = asyncio.Event()
    running = asyncio.create_task(live.run(stop))
    try:
        await asyncio.wait_for(live.first_sync_done.wait(), 30)
        yield live
    finally:
        stop.set()
        await running


async def until_state(live: LiveSync, spec: SourceSpec, state: str, within_s: float) -> None:
    async with asyncio.timeout(within_s):
        while live.checks()[f"source {spec.origin}"] != state:
            await asyncio.sleep(0.1)


async def until_answered(bot: Helpbot, question: str) -> Retrieval:
    async with asyncio.timeout(30):
        while not (found := await bot.service.retrieve(Query(question))).relevant:
            await asyncio.sleep(0.5)
    return found


async def test_a_change_made_while_milvus_is_down_is_synced_once_it_is_back(
    docs: Path, tmp_path: Path, make_settings
) -> None:
    """What `serve` runs on a folder: the sync after the change fails, and is tried again,
    with no further change, until Milvus answers."""
    server = MilvusServer("milvus-lite", tmp_path / "milvus")
    server.start()
    try:
        settings = make_settings(milvus_uri=server.uri, milvus_collection="retries")
        spec = SourceSpec("default", "path", str(docs))
        async with Helpbot(settings) as bot, following(bot, spec, retry_s=0.5) as live:
            server.stop()
            write(docs / "runbook.md", RUNBOOK)
            await until_state(live, spec, "failing", 30)
            server.start()  # same port, same data
            await until_state(live, spec, "ok", 60)
            found = await bot.service.retrieve(Query("Who keeps the pager rota?"))
    finally:
        server.stop()
    assert found.relevant and found.relevant[0].source == "docs/runbook.md"


async def test_a_folder_that_appears_after_the_start_is_synced_and_followed(
    tmp_path: Path, make_settings
) -> None:
    """A sources file may name a folder that does not exist yet (a checkout still to come):
    once it appears it is synced, and so are later changes in it, with no retry due (the
    first pause here is an hour) and no restart."""
    later = tmp_path / "later"
    spec = SourceSpec("default", "path", str(later))
    async with Helpbot(make_settings()) as bot, following(bot, spec, retry_s=3600) as live:
        assert live.checks() == {f"source {later}": "failing"}
        write(later / "runbook.md", RUNBOOK)
        await until_state(live, spec, "ok", 30)
        write(later / "backups.md", BACKUPS)
        found = await until_answered(bot, "When are restores tested?")
        pager = await bot.service.retrieve(Query("Who keeps the pager rota?"))
    assert found.relevant[0].source == "later/backups.md"
    assert pager.relevant[0].source == "later/runbook.md"


async def test_a_folder_replaced_while_followed_is_followed_again(
    tmp_path: Path, make_settings
) -> None:
    """`rm -rf docs && git clone ...`: a watch on the old folder sees nothing in the new one;
    the new one is watched in its place, so a later edit is synced with no retry due."""
    docs = tmp_path / "docs"
    write(docs / "runbook.md", RUNBOOK)
    spec = SourceSpec("default", "path", str(docs))
    async with Helpbot(make_settings()) as bot, following(bot, spec, retry_s=3600):
        shutil.rmtree(docs)
        write(docs / "runbook.md", RUNBOOK)
        await asyncio.sleep(5)  # the replacement is seen, and the new folder watched
        write(docs / "backups.md", BACKUPS)
        found = await until_answered(bot, "When are restores tested?")
    assert found.relevant[0].source == "docs/backups.md"
