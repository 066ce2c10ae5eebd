"""Votes on answers are kept with the question, the answer and its sources: in the SQLite file,
and in Redis (REDIS_URL) where every bot process shares them."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

from bots.cli import main
from core.container import build_answer_log
from core.learning.answer_log import AnswerLog, Retention
from core.learning.redis_answer_log import RedisAnswerLog
from core.learning.sqlite_answer_log import SqliteAnswerLog
from core.models import Answer, Origin, Query, Source
from core.settings import Settings


def store_for(env: dict[str, str], retention: Retention | None = None) -> AnswerLog:
    """The store those variables choose; with `retention`, that store on a test clock."""
    if retention is None:
        values = {name.lower(): value for name, value in env.items()}
        return build_answer_log(Settings(_env_file=None, **values))  # type: ignore[arg-type]
    if "REDIS_URL" in env:
        return RedisAnswerLog(env["REDIS_URL"], retention)
    return SqliteAnswerLog(Path(env["FEEDBACK_PATH"]), retention)


def answer(text: str) -> Answer:
    source = Source(
        1, "faq/product_faq.md", "Product FAQ", "Where does Milvus store data?", "snippet", 0.9
    )
    return Answer(text, True, "extractive", (source,))


async def test_votes_are_counted_per_person_and_a_second_vote_replaces_the_first(
    feedback_env: dict[str, str],
) -> None:
    store = store_for(feedback_env)
    await store.start()
    query = Query("where is data stored?", origin=Origin("slack", "T1", "C1", "U1"))
    answer_id = await store.save_answer(query, answer("In object storage [1]."))
    assert await store.vote(answer_id, "U1", "up")
    assert await store.vote(answer_id, "U2", "up")
    assert await store.vote(answer_id, "U2", "down")
    assert not await store.vote("no-such-answer", "U1", "up")
    [record] = await store.recent()
    await store.stop()
    assert (record.up, record.down) == (1, 1)
    assert (record.platform, record.channel, record.user) == ("slack", "C1", "U1")
    assert record.question == "where is data stored?"
    assert record.sources == ("faq/product_faq.md > Where does Milvus store data?",)


async def test_recent_lists_newest_first_and_can_keep_only_voted(
    feedback_env: dict[str, str],
) -> None:
    store = store_for(feedback_env)
    await store.start()
    first = await store.save_answer(Query("first?"), answer("one"))
    await store.save_answer(Query("second?"), answer("two"))
    await store.vote(first, "U1", "down")
    assert [r.question for r in await store.recent()] == ["second?", "first?"]
    assert [r.question for r in await store.recent(only_voted=True)] == ["first?"]
    await store.stop()


def test_feedback_command_lists_answers_with_votes(
    monkeypatch, tmp_path, capsys, feedback_env
) -> None:
    async def seed() -> None:
        store = store_for(feedback_env)
        await store.start()
        answer_id = await store.save_answer(
            Query("how do backups work?", origin=Origin("slack", "T1", "C9", "U7")),
            answer("Nightly [1]."),
        )
        await store.vote(answer_id, "U8", "up")
        await store.stop()

    asyncio.run(seed())
    for name, value in feedback_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MILVUS_URI", str(tmp_path / "m.db"))
    assert main(["feedback"]) == 0
    out = capsys.readouterr().out
    assert "+1 -0  slack/C9/U7  how do backups work?" in out
    assert main(["feedback", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["up"] == 1 and record["answer"] == "Nightly [1]."


async def test_answers_past_retention_are_deleted_with_their_votes(
    feedback_env: dict[str, str],
) -> None:
    now = [1_800_000_000.0]
    clock = lambda: now[0]  # noqa: E731
    store = store_for(feedback_env, Retention(30, clock))
    await store.start()
    old = await store.save_answer(Query("old question?"), answer("one"))
    await store.vote(old, "U1", "up")
    now[0] += 20 * 86400
    await store.save_answer(Query("recent question?"), answer("two"))
    now[0] += 11 * 86400 + 3600  # the first is now 31 days old; the hourly check is due
    await store.save_answer(Query("newest question?"), answer("three"))
    kept = [r.question for r in await store.recent()]
    await store.stop()
    assert kept == ["newest question?", "recent question?"]
    assert not await _vote_after_restart(feedback_env, old)


async def _vote_after_restart(feedback_env: dict[str, str], answer_id: str) -> bool:
    store = store_for(feedback_env)
    await store.start()
    try:
        return await store.vote(answer_id, "U2", "up")
    finally:
        await store.stop()


def test_feedback_purge_deletes_every_answer(monkeypatch, capsys, feedback_env) -> None:
    async def seed() -> None:
        store = store_for(feedback_env)
        await store.start()
        for n in range(3):
            answer_id = await store.save_answer(Query(f"question {n}?"), answer("a"))
            await store.vote(answer_id, "U1", "down")
        await store.stop()

    asyncio.run(seed())
    for name, value in feedback_env.items():
        monkeypatch.setenv(name, value)
    assert main(["feedback", "--purge"]) == 0
    assert capsys.readouterr().out.strip() == "deleted 3 answers and their votes"
    assert main(["feedback", "--json"]) == 0
    assert capsys.readouterr().out == ""


async def test_the_answer_log_is_a_private_file_in_a_private_folder(tmp_path: Path) -> None:
    """It keeps questions and user ids: only its owner may read it, journal files included."""
    os.chmod(tmp_path, 0o755)
    path = tmp_path / "data" / "feedback.sqlite"
    store = SqliteAnswerLog(path)
    await store.start()
    try:
        await store.save_answer(Query("Where is data kept?"), answer("In MinIO."))
    finally:
        await store.stop()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755  # already there: left as it was
