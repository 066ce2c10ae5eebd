"""Case 10: `kill -9` of an ingest at random points, ten times, on the Milvus Lite file,
alternating between two versions of the documents (so kills land during inserts, updates,
deletes, the flush and the index build after it); after each kill a re-run must leave exactly
the chunks (ids and content) of a clean ingest of that version. Also: an index file damaged
the way a kill can damage it is repaired on the next open."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import sys
import time
from pathlib import Path

from tests.reliability.ledger import Ledger
from tests.support import faq_dir, write

HELPBOT = str(Path(sys.executable).with_name("helpbot"))
ROUNDS = 10
SEED = 20261125


def versions(root: Path) -> dict[str, Path]:
    """Version A: the FAQ. Version B: one file edited, one removed, one added."""
    a = root / "a" / "faq"
    shutil.copytree(faq_dir(), a)
    b = root / "b" / "faq"
    shutil.copytree(faq_dir(), b)
    first, second = sorted(b.glob("*.md"))[:2]
    first.write_text(first.read_text(encoding="utf-8").replace("Milvus", "Milvus (edited)"))
    second.unlink()
    write(b / "new.md", "# New\n\n## Is this file new?\n\nYes, it only exists in version B.\n")
    return {"A": a, "B": b}


async def ingest(docs: Path, env: dict[str, str], kill_after: float | None = None) -> int:
    process = await asyncio.create_subprocess_exec(
        HELPBOT,
        "ingest",
        str(docs),
        "--replace",  # the two versions are two folders of one name: each replaces the other
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    if kill_after is None:
        _, err = await process.communicate()
        if process.returncode:
            print(err.decode(errors="replace"))
        return await process.wait()
    try:
        await asyncio.wait_for(process.wait(), kill_after)
    except TimeoutError:
        process.send_signal(signal.SIGKILL)
    return await process.wait()


# Read in a process of its own: Milvus Lite keeps a file locked until its process ends.
_READ_CHUNKS = """
import hashlib, json, sys
from core.search.milvus.pymilvus_import import MilvusClient
client = MilvusClient(sys.argv[1])
client.load_collection("helpbot")
rows = client.query("helpbot", filter='id != ""', output_fields=["body", "text"])
print(json.dumps([[r["id"], hashlib.sha256((r["body"] + r["text"]).encode()).hexdigest()]
                  for r in rows]))
"""


async def chunk_set(store: Path) -> list[tuple[str, str]]:
    """(id, content hash) of every stored chunk, sorted; a duplicate would show twice."""
    reader = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _READ_CHUNKS,
        str(store),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await reader.communicate()
    assert reader.returncode == 0, f"could not read {store}: {err.decode()[-500:]}"
    return sorted((chunk_id, digest) for chunk_id, digest in json.loads(out))


def env_for(store: Path, cache: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "MILVUS_URI": str(store),
        "EMBEDDING_CACHE_PATH": str(cache),
        "FEEDBACK_PATH": str(store.parent / "feedback.sqlite"),
    }


async def test_kill_9_at_random_points_then_rerun_equals_a_clean_run(
    tmp_path: Path, embedding_cache: Path, ledger: Ledger
) -> None:
    docs = versions(tmp_path)
    clean: dict[str, list[tuple[str, str]]] = {}
    durations = []
    for name, folder in docs.items():
        store = tmp_path / f"clean-{name}" / "helpbot.db"
        started = time.monotonic()
        assert await ingest(folder, env_for(store, embedding_cache)) == 0
        durations.append(time.monotonic() - started)
        clean[name] = await chunk_set(store)
    assert clean["A"] != clean["B"]

    chance = random.Random(SEED)
    store = tmp_path / "crashed" / "helpbot.db"
    env = env_for(store, embedding_cache)
    with ledger.case("10. kill -9 during ingestion", tried=ROUNDS) as row:
        for round_ in range(ROUNDS):
            name = "AB"[round_ % 2]
            await ingest(docs[name], env, kill_after=chance.uniform(0.5, max(durations) + 1))
            assert await ingest(docs[name], env) == 0, f"re-run {round_} failed"
            stored = await chunk_set(store)
            ids = [chunk_id for chunk_id, _ in stored]
            row.duplicates += len(ids) - len(set(ids))
            row.lost += len(set(clean[name]) - set(stored))
            row.leaks += len(set(stored) - set(clean[name]))  # stale chunks left behind
            assert stored == clean[name], f"round {round_} ({name})"


async def test_a_damaged_index_file_is_rebuilt_and_nothing_is_lost(
    tmp_path: Path, embedding_cache: Path, ledger: Ledger
) -> None:
    store = tmp_path / "data" / "helpbot.db"
    env = env_for(store, embedding_cache)
    with ledger.case("10. kill -9 during ingestion", tried=1) as row:
        assert await ingest(faq_dir(), env) == 0
        before = await chunk_set(store)
        # What a kill during an index write leaves: the index files cut short.
        damaged = list(store.glob("collections/helpbot/partitions/*/indexes/*.idx"))
        for index in damaged:
            with index.open("r+b") as file:
                file.truncate(index.stat().st_size // 3)
        assert damaged
        ask = await asyncio.create_subprocess_exec(
            HELPBOT,
            "ask",
            "--json",
            "How is data stored in milvus?",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await ask.communicate()
        after = await chunk_set(store)
        row.lost = len(set(before) - set(after))
        assert ask.returncode == 0 and b'"answered": true' in out
        assert after == before
