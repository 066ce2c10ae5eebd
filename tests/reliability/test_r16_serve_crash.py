"""Case 16: `kill -9` of `helpbot serve` during its sync, on the default Milvus Lite file
(which serve shares through a child engine, killed with it), at seeded random points, then a
restart: the store opens, and once the restarted serve has synced, the chunks (ids and
content) are exactly those of one clean `helpbot sync`."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from pathlib import Path

from tests.reliability.ledger import Ledger
from tests.reliability.test_r10_ingest_crash import HELPBOT, chunk_set, env_for, versions
from tests.support import free_port, http_get, write

ROUNDS = 3
SEED = 20261130


async def serve(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        HELPBOT,
        "serve",
        "--health-port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def until_synced(port: int, timeout_s: float = 300.0) -> None:
    """/readyz says every source is synced ("ok")."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            _, body = await http_get(f"http://127.0.0.1:{port}/readyz")
            checks = json.loads(body)["checks"]
            sources = [value for key, value in checks.items() if key.startswith("source ")]
            if sources and all(value == "ok" for value in sources):
                return
        except (OSError, ValueError, KeyError):
            pass
        await asyncio.sleep(0.5)
    raise AssertionError("serve did not finish its sync")


async def test_kill_9_of_serve_during_its_sync_then_a_restart_equals_a_clean_sync(
    tmp_path: Path, embedding_cache: Path, ledger: Ledger
) -> None:
    docs = versions(tmp_path)["A"]
    sources = write(tmp_path / "sources.toml", f'[[source]]\npath = "{docs}"\n')
    clean_store = tmp_path / "clean" / "helpbot.db"
    clean_env = env_for(clean_store, embedding_cache) | {"SOURCES_FILE": str(sources)}
    started = time.monotonic()
    sync = await asyncio.create_subprocess_exec(HELPBOT, "sync", env=clean_env)
    assert await sync.wait() == 0
    duration = time.monotonic() - started
    clean = await chunk_set(clean_store)

    store = tmp_path / "crashed" / "helpbot.db"
    env = env_for(store, embedding_cache) | {"SOURCES_FILE": str(sources)}
    chance = random.Random(SEED)
    with ledger.case("16. kill -9 of serve during its sync", tried=ROUNDS) as row:
        for _ in range(ROUNDS):
            crashed = await serve(env, free_port())
            await asyncio.sleep(chance.uniform(1.0, duration + 4))
            crashed.send_signal(signal.SIGKILL)
            await crashed.wait()
            port = free_port()
            restarted = await serve(env, port)
            await until_synced(port)
            restarted.send_signal(signal.SIGTERM)
            assert await restarted.wait() == 0
            stored = await chunk_set(store)
            ids = [chunk_id for chunk_id, _ in stored]
            row.duplicates += len(ids) - len(set(ids))
            row.lost += len(set(clean) - set(stored))
            row.leaks += len(set(stored) - set(clean))
            assert stored == clean
