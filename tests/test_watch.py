"""`helpbot ingest --watch`: a knowledge base that follows its folder, observed the way an
operator would, through /metrics, and then through the answers."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bots import cli
from core.container import Helpbot
from core.errors import BadInputError
from core.models import Query
from support import free_port, http_get, write


def watch_args(docs: Path, health_port: int) -> argparse.Namespace:
    return argparse.Namespace(
        paths=[str(docs)],
        kb=None,
        url=None,
        recreate=False,
        json=False,
        watch=True,
        health_port=health_port,
        health_host="127.0.0.1",
    )


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
    port = free_port()
    health = f"http://127.0.0.1:{port}"
    watcher = asyncio.create_task(cli._ingest(settings, watch_args(docs, port)))
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
    args = watch_args(docs, 0)
    args.paths = ["https://example.test/docs.zip"]
    with pytest.raises(BadInputError, match="local files and folders"):
        await cli._ingest(make_settings(), args)
