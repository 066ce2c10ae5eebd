"""What the team decides about a gap holds: `helpbot gaps set` takes the id `helpbot gaps`
printed, a resolved gap leaves the list and the digest until its topic is asked again, a
dismissed one stays out, and a decided topic asked again next week keeps its status."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from bots.cli.learning import GapStatusCommand, run_gap_status
from core.container import Helpbot
from core.learning.gaps import Gap
from core.models import Origin, Query
from core.settings import Settings
from tests.support import write

SSO = [
    ("en", "Can we log in to the admin console with our Okta SSO?"),
    ("ja", "管理コンソールにOktaのSSOでログインできますか？"),
    ("zh", "管理控制台能用我们公司的 Okta 单点登录吗？"),
]
TERRAFORM = [
    ("en", "Is there a Terraform provider to create collections as code?"),
    ("ja", "コレクションをTerraformでコードとして管理できますか？"),
    ("zh", "有没有 Terraform provider 可以用代码来创建 collection？"),
]
SSO_AGAIN = "Does the admin console support single sign-on through Okta?"
SSO_THIRD = "How do I set up Okta SAML login for the admin console?"
WEEK = 7 * 86400


async def ask(bot: Helpbot, questions: list[tuple[str, str]]) -> None:
    for language, question in questions:
        query = Query(question, origin=Origin("slack", "T1", "C1", "U1"))
        await bot.answer_log.save_failure(query, "dont_know", language)


def age(settings: Settings, days: float) -> None:
    """Every reply logged so far was asked `days` ago."""
    with sqlite3.connect(settings.feedback_path) as db:
        db.execute("UPDATE answers SET created_at = created_at - ?", (days * 86400,))


def topics(gaps: list[Gap]) -> list[tuple[str, str, int]]:
    """Each gap as (representative, status, size)."""
    return [(gap.representative, gap.status, gap.size) for gap in gaps]


async def decide(settings: Settings, gap: Gap, status: str) -> None:
    assert await run_gap_status(settings, GapStatusCommand(gap.id, status)) == 0


async def test_a_decided_gap_keeps_its_status_week_after_week(
    make_settings, tmp_path: Path
) -> None:
    settings = make_settings(feedback_path=tmp_path / "feedback.sqlite")
    async with Helpbot(settings) as bot:
        await ask(bot, SSO + TERRAFORM)
    age(settings, 10)  # asked last week and the week before
    async with Helpbot(settings) as bot:
        await ask(bot, [("en", SSO_AGAIN)])
        [this_week] = await bot.coverage.gaps(WEEK)
        before = await bot.coverage.gaps(30 * 86400)
    # One topic, one id, whichever window lists it: this week's question alone, or the four
    # of the last 30 days.
    assert this_week.size == 1
    assert this_week.id in {gap.id for gap in before if gap.size == 4}
    await decide(settings, this_week, "in_progress")
    async with Helpbot(settings) as bot:
        month = await bot.coverage.gaps(30 * 86400)
        await ask(bot, [("en", SSO_THIRD)])
        again = await bot.coverage.gaps(WEEK)
    sso = next(gap for gap in month if gap.size == 4)
    assert (sso.id, sso.status) == (this_week.id, "in_progress")
    assert {gap.status for gap in month if gap is not sso} == {"new"}
    assert {(gap.id, gap.status, gap.size) for gap in again} == {(this_week.id, "in_progress", 2)}

    await decide(settings, again[0], "resolved")
    async with Helpbot(settings) as bot:
        resolved = await bot.coverage.gaps(WEEK)
        listed_all = await bot.coverage.gaps(WEEK, closed=True)
        digest = await bot.coverage.digest(time.time() - WEEK, time.time())
        await ask(bot, [("en", SSO_AGAIN)])  # asked again after it was resolved
        reopened = await bot.coverage.gaps(WEEK)
    assert resolved == []
    assert [gap.status for gap in listed_all] == ["resolved"]
    assert "Top gaps" not in digest.text
    assert [(gap.id, gap.status, gap.size) for gap in reopened] == [(this_week.id, "resolved", 3)]

    await decide(settings, reopened[0], "dismissed")
    async with Helpbot(settings) as bot:
        await ask(bot, [("en", SSO_THIRD)])
        dismissed = await bot.coverage.gaps(WEEK)
    assert dismissed == []


async def test_a_sync_that_covers_an_open_gap_marks_it_docs_changed(
    make_settings, tmp_path: Path
) -> None:
    """The question found nothing close when asked; a page written since answers it: after
    the sync, its gap says "docs changed, check" and names the section."""
    docs = tmp_path / "docs"
    write(docs / "backups.md", "# Backups\n\nBackups run every night at two.\n")
    settings = make_settings(feedback_path=tmp_path / "feedback.sqlite")
    question = Query(
        "How do I rotate the TLS certificates of the cluster?",
        origin=Origin("slack", "T1", "C1", "U1"),
    )
    async with Helpbot(settings) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        answer = await bot.service.answer(question)
        await bot.answer_log.save_answer(question, answer)
        [before] = await bot.coverage.gaps(WEEK)
        write(
            docs / "tls.md",
            "# Certificates\n\n## Rotating the TLS certificates\n\n"
            "To rotate the cluster's TLS certificates, replace the secret and restart the "
            "proxies one at a time.\n",
        )
        await bot.ingestor.sync([docs], bot.ingest_options())
        [after] = await bot.coverage.gaps(WEEK)
    assert not answer.answered and before.status == "new"
    assert after.id == before.id and after.status == "docs_changed"
    assert "tls.md" in after.note
