"""Case 13: answers keep question text and user ids; retention and purge delete them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from core.learning.answer_log import Retention
from core.learning.sqlite_answer_log import SqliteAnswerLog
from core.models import Answer, Origin, Query
from tests.reliability.ledger import Ledger


async def test_retention_and_purge_delete_questions_and_user_ids(
    tmp_path: Path, ledger: Ledger
) -> None:
    now = [1_800_000_000.0]
    path = tmp_path / "feedback.sqlite"
    with ledger.case("13. privacy: retention and purge", tried=2) as row:
        store = SqliteAnswerLog(path, Retention(7, lambda: now[0]))
        await store.start()
        answer = Answer("Nightly [1].", True, "extractive")
        for n in range(3):
            await store.save_answer(
                Query(f"secret plan {n}?", origin=Origin(user="U0PRIV")), answer
            )
        now[0] += 8 * 86400
        await store.stop()
        await store.start()  # retention runs at start (and hourly)
        kept_after_retention = await store.recent()
        await store.save_answer(Query("fresh?", origin=Origin(user="U0PRIV")), answer)
        await store.stop()

        purge = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("helpbot")),
            "feedback",
            "--purge",
            env={"PATH": os.environ["PATH"], "FEEDBACK_PATH": str(path)},
            cwd=tmp_path,
        )
        assert await purge.wait() == 0
        # Deleted rows must not linger in the file's free pages either.
        remaining = path.read_bytes()
        row.leaks = remaining.count(b"U0PRIV") + remaining.count(b"secret plan")
        assert kept_after_retention == []
        assert row.leaks == 0
