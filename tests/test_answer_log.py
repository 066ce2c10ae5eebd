"""The answer log records every reply as the service gave it (outcome, language, scope, how
close the match was, the cited sections with their content hashes, latency, token usage),
marks answers stale when a sync changes what they cited, and hands out notices and digests
once across processes: on SQLite and on Redis alike."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
import redis.asyncio

from bots.cli import main
from bots.learning import stale_section
from core.container import Helpbot
from core.learning.answer_log import GapStatus
from core.learning.sqlite_answer_log import SqliteAnswerLog
from core.models import Origin, Query
from core.search.types import content_hash
from tests.standins.openai_server import OpenAIStandIn
from tests.support import write
from tests.test_feedback import store_for

BACKUPS = "# Backups\n\n## When do backups run?\n\nBackups run every night at two, to S3.\n"
ROTA = "# On call\n\n## The rota\n\nThe on-call rota changes every Monday at nine.\n"


def _values(feedback_env: dict[str, str]) -> dict[str, object]:
    return {name.lower(): value for name, value in feedback_env.items()}


async def test_an_answer_is_logged_with_what_a_doc_writer_needs(
    make_settings, feedback_env: dict[str, str], tmp_path: Path
) -> None:
    docs = write(tmp_path / "docs" / "backups.md", BACKUPS).parent
    async with OpenAIStandIn() as llm:
        llm.reply_with("Every night at two [1].")
        settings = make_settings(
            llm_base_url=llm.base_url, llm_api_key="k", **_values(feedback_env)
        )
        async with Helpbot(settings) as bot:
            await bot.ingestor.sync([docs], bot.ingest_options())
            query = Query(
                "When do backups run?",
                origin=Origin("slack", "T1", "C1", "U1", thread="1700000000.000100"),
                knowledge_bases=("default",),
            )
            answer = await bot.service.answer(query)
            answer_id = await bot.answer_log.save_answer(query, answer, latency_ms=812.5)
            failed = await bot.answer_log.save_failure(Query("¿y esto?"), "error", "es", 40.0)
            assert await bot.answer_log.vote(answer_id, "U2", "down", "outdated")
            records = {r.id: r for r in await bot.answer_log.recent()}
            [cited] = records[answer_id].citations
            [stored] = bot.store.client.query(
                bot.store.collection, ids=[cited.chunk_id], output_fields=["body"]
            )
        usage = llm.chat_calls()[-1].json["stream_options"]
    record, failure = records[answer_id], records[failed]
    assert usage == {"include_usage": True}
    assert (record.outcome, record.language, record.scope) == ("answered", "en", ("default",))
    assert record.thread == "1700000000.000100"
    assert record.best_similarity == pytest.approx(answer.best_similarity)
    assert record.best_similarity is not None and record.best_similarity > 0.8
    assert (cited.source, cited.heading) == ("docs/backups.md", "When do backups run?")
    assert cited.content_hash == content_hash(stored["body"])
    assert "every night at two" in stored["body"]
    assert record.latency_ms == 812.5
    assert record.prompt_tokens and record.completion_tokens
    assert (record.down, record.down_reasons) == (1, ("outdated",))
    assert (failure.outcome, failure.language, failure.answer) == ("error", "es", "")


async def test_a_sync_that_changes_a_cited_section_marks_the_answer_stale_once(
    make_settings, feedback_env: dict[str, str], tmp_path: Path
) -> None:
    """Changed text: stale, and its notice is handed out once; text that only moved (a
    section added above it) is not stale."""
    docs = tmp_path / "docs"
    write(docs / "backups.md", BACKUPS)
    write(docs / "oncall.md", ROTA)
    # One chunk per section: a short section added above is not merged into the cited one.
    settings = make_settings(chunk_min_chars=0, **_values(feedback_env))
    async with Helpbot(settings) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        ids = {}
        for question in ("When do backups run?", "When does the on-call rota change?"):
            query = Query(question, origin=Origin("discord", None, "42", "7", thread="99"))
            answer = await bot.service.answer(query)
            assert answer.answered and answer.sources
            ids[question] = await bot.answer_log.save_answer(query, answer)

        write(docs / "backups.md", BACKUPS.replace("two", "three"))
        write(docs / "oncall.md", "# On call\n\n## Paging\n\nPages go to the lead.\n\n" + ROTA[10:])
        await bot.ingestor.sync([docs], bot.ingest_options())
        records = {r.id: r for r in await bot.answer_log.recent()}
        elsewhere = await bot.answer_log.claim_stale_notices({"slack"})  # not its platform
        notices = await bot.answer_log.claim_stale_notices({"discord"})
        again = await bot.answer_log.claim_stale_notices({"discord"})
    other = store_for(feedback_env)  # another process sharing the log finds none left
    await other.start()
    from_other = await other.claim_stale_notices({"discord"})
    await other.stop()
    assert records[ids["When do backups run?"]].stale
    assert not records[ids["When does the on-call rota change?"]].stale
    assert [n.id for n in notices] == [ids["When do backups run?"]]
    assert notices[0].thread == "99"
    assert again == [] and from_other == [] and elsewhere == []


async def test_forgetting_a_cited_file_makes_its_answers_stale(
    make_settings,
    feedback_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Marked in the log, and in what `helpbot feedback` prints."""
    docs = write(tmp_path / "docs" / "backups.md", BACKUPS).parent
    settings = make_settings(**_values(feedback_env))
    async with Helpbot(settings) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        query = Query("When do backups run?")
        answer_id = await bot.answer_log.save_answer(query, await bot.service.answer(query))
        await bot.ingestor.forget("default", ["docs/backups.md"])
        [record] = await bot.answer_log.recent()
    for name, value in feedback_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MILVUS_URI", settings.milvus_uri)
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["feedback"]) == 0
    listed = capsys.readouterr().out
    assert record.id == answer_id and record.stale
    assert "+0 -0  stale  -  When do backups run?" in listed


async def test_answers_logged_before_redis_indexed_citations_still_go_stale(
    make_settings, redis_url: str, tmp_path: Path
) -> None:
    """A sync reads only the answers that cite a removed chunk (Redis keeps an index of
    them); a log written before that index is indexed once, at the next start, and a purge
    leaves nothing of it behind."""
    docs = tmp_path / "docs"
    write(docs / "backups.md", BACKUPS)
    write(docs / "oncall.md", ROTA)
    settings = make_settings(redis_url=redis_url)
    ids = {}
    async with Helpbot(settings) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        for question in ("When do backups run?", "When does the on-call rota change?"):
            query = Query(question)
            ids[question] = await bot.answer_log.save_answer(query, await bot.service.answer(query))
    raw = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    index = await raw.keys("helpbot:feedback:cited*")
    assert index  # the index, and the mark that the older answers are in it
    await raw.delete(*index)  # as a log from before the index
    async with Helpbot(settings) as bot:
        write(docs / "backups.md", BACKUPS.replace("two", "three"))
        await bot.ingestor.sync([docs], bot.ingest_options())
        stale = {r.id for r in await bot.answer_log.recent() if r.stale}
        assert await bot.answer_log.purge() == 2
    left = await raw.keys("helpbot:feedback:cited:*")
    await raw.aclose()
    assert stale == {ids["When do backups run?"]}
    assert left == []


async def test_a_digest_is_claimed_once_per_period_across_processes(
    feedback_env: dict[str, str],
) -> None:
    first, second = store_for(feedback_env), store_for(feedback_env)
    await first.start()
    await second.start()
    week = 7 * 86400.0
    claims = [
        await first.claim_digest(1_000_000.0, week, "slack"),
        await second.claim_digest(1_000_000.0, week, "slack"),
        await second.claim_digest(1_000_000.0 + week - 1, week, "slack"),
        await first.claim_digest(1_000_000.0 + week, week, "slack"),
    ]
    # `helpbot discord` on its own, beside `helpbot slack`: its own schedule.
    discord = await second.claim_digest(1_000_000.0 + week, week, "discord")
    await first.stop()
    await second.stop()
    assert claims == [0.0, None, None, 1_000_000.0]
    assert discord == 0.0


async def test_a_digest_given_back_is_due_again_exactly_one_period_after_the_last(
    feedback_env: dict[str, str],
) -> None:
    """Times keep every digit: a claim given back restores the last digest's time as it was
    (Redis handed back 14 digits, and the retry was not due by a few microseconds)."""
    store = store_for(feedback_env)
    await store.start()
    day, last = 86400.0, 1764557123.987654
    await store.claim_digest(last, day, "slack")
    claimed = await store.claim_digest(last + day, day, "slack")
    await store.release_digest(last + day, claimed or 0.0, "slack")
    again = await store.claim_digest(last + day, day, "slack")
    await store.stop()
    assert claimed == again == last


async def test_gap_statuses_are_kept(feedback_env: dict[str, str]) -> None:
    store = store_for(feedback_env)
    await store.start()
    status = GapStatus("in_progress", "docs PR #12", 5.0, ("a1", "a2"))
    await store.set_gap_status("g1234567", status)
    found = await store.gap_statuses()
    await store.stop()
    assert found == {"g1234567": status}


async def test_questions_can_be_kept_out_of_the_log(
    make_settings, feedback_env: dict[str, str]
) -> None:
    settings = make_settings(log_questions=False, **_values(feedback_env))
    async with Helpbot(settings) as bot:
        await bot.answer_log.save_failure(Query("secret project question"), "error", "en")
        [record] = await bot.answer_log.recent()
    assert record.question == ""


async def test_a_log_file_from_before_details_were_kept_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE answers (
            id TEXT PRIMARY KEY, created_at REAL NOT NULL, platform TEXT, workspace TEXT,
            channel TEXT, user TEXT, question TEXT NOT NULL, answer TEXT NOT NULL,
            answered INTEGER NOT NULL, sources TEXT NOT NULL);
        CREATE TABLE votes (
            answer_id TEXT NOT NULL REFERENCES answers(id), voter TEXT NOT NULL,
            vote TEXT NOT NULL, voted_at REAL NOT NULL, PRIMARY KEY (answer_id, voter));
        INSERT INTO answers VALUES ('old', 1.0, 'slack', 'T', 'C', 'U', 'q?', 'I don''t know',
            0, '[]');
        INSERT INTO votes VALUES ('old', 'U2', 'down', 2.0);
        """
    )
    db.close()
    log = SqliteAnswerLog(path)
    await log.start()
    [record] = await log.recent()
    assert await log.vote("old", "U3", "down", "wrong")
    [voted] = await log.recent()
    await log.stop()
    assert (record.outcome, record.down, record.citations) == ("dont_know", 1, ())
    assert voted.down_reasons == ("wrong",)


async def test_the_digest_lists_the_answers_gone_stale_in_its_period_whenever_asked(
    make_settings, feedback_env: dict[str, str], tmp_path: Path
) -> None:
    """An answer given before the digest's period, whose cited section a sync changed during
    it, is in that digest (it would be in none if counted by when it was asked)."""
    docs = write(tmp_path / "docs" / "backups.md", BACKUPS).parent
    async with Helpbot(make_settings(**_values(feedback_env))) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        query = Query("When do backups run?")
        await bot.answer_log.save_answer(query, await bot.service.answer(query))
        period = time.time()
        write(docs / "backups.md", BACKUPS.replace("two", "three"))
        await bot.ingestor.sync([docs], bot.ingest_options())
        before = await bot.coverage.digest(period - 86400, period)
        during = await bot.coverage.digest(period, time.time() + 1)
    assert (before.asked, before.stale) == (1, 0)
    assert (during.asked, during.stale) == (0, 1)
    assert "Answers gone stale (a cited section changed): 1\n• When do backups run?" in during.text


async def test_a_stale_answer_names_the_cited_section_that_changed(
    make_settings, feedback_env: dict[str, str], tmp_path: Path
) -> None:
    """An answer quoting two pages, the second of which a sync changed: its notice names the
    second, not simply the first source."""
    docs = tmp_path / "docs"
    write(docs / "backups.md", BACKUPS)
    write(docs / "restore.md", "# Restore\n\n## Restoring a backup\n\nRestore backups from S3.\n")
    async with Helpbot(make_settings(**_values(feedback_env), top_k=2)) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        query = Query("How do backups to S3 and restoring them work?")
        answer = await bot.service.answer(query)
        await bot.answer_log.save_answer(query, answer)
        unchanged = answer.sources[0].source
        changed = next(s for s in answer.sources if s.source != unchanged)
        write(tmp_path / changed.source, (tmp_path / changed.source).read_text() + "More.\n")
        await bot.ingestor.sync([docs], bot.ingest_options())
        [record] = await bot.answer_log.recent()
    assert record.stale and record.stale_at is not None
    assert stale_section(record)[0] == changed.heading
