"""`helpbot ingest --watch`: a knowledge base that follows its folder, observed the way an
operator would, through /metrics, and then through the answers."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bots.cli import IngestCommand, Listening, run_ingest
from bots.cli.running import HealthOptions
from core.container import Helpbot
from core.errors import BadInputError
from core.models import Query
from tests.support import http_get, write


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


async def test_watch_syncs_every_change_until_stopped(docs: Path, make_settings) -> None:
    settings = make_settings()
    listening = Listening()
    watcher = asyncio.create_task(run_ingest(settings, watch_command(docs), listening))
    await asyncio.wait_for(listening.ready.wait(), 30)
    health = f"http://127.0.0.1:{listening.ports['health']}"
    await until_runs(health, 1)

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


async def test_watch_refuses_urls(docs: Path, make_settings) -> None:
    command = IngestCommand(("https://example.test/docs.zip",), watch=True)
    with pytest.raises(BadInputError, match="local files and folders"):
        await run_ingest(make_settings(), command)
