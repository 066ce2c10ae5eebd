"""Case 14: hostile files among good ones (a FIFO and a device named `.md`, YAML front matter
that expands without bound, nesting deeper than a parser's recursion): each is skipped or
read safely, with its reason, and the run finishes with the rest ingested."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from core.container import Helpbot
from core.models import Query
from tests.reliability.ledger import Ledger
from tests.support import write

ALIAS_BOMB = (
    "---\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "title: *g\n"
    "---\n# Bomb\n\nSome text about quotas.\n"
)


async def test_hostile_files_are_skipped_or_read_safely_and_the_rest_ingested(
    make_settings, tmp_path: Path, ledger: Ledger, sent: list[Any]
) -> None:
    docs = tmp_path / "docs"
    write(docs / "good.md", "# Backups\n\n## When do backups run?\n\nEvery night at two.\n")
    os.mkfifo(docs / "pipe.md")
    (docs / "zero.md").symlink_to("/dev/zero")
    write(docs / "bomb.md", ALIAS_BOMB)
    write(docs / "deep-front-matter.md", "---\ntitle: " + "[" * 5000 + "\n---\n# Deep\n\nText.\n")
    write(docs / "deep.html", "<html><body>" + "<div>" * 5_000 + "Deep text." + "</div>" * 5_000)
    hostile = ["pipe.md", "zero.md", "bomb.md", "deep-front-matter.md", "deep.html"]
    with ledger.case("14. hostile files", tried=len(hostile)) as row:
        async with Helpbot(make_settings()) as bot:
            report = await asyncio.wait_for(
                bot.ingestor.sync([docs], bot.ingest_options()), timeout=120
            )
            found = await bot.service.retrieve(Query("When do backups run?"))
            titles = {
                hit.source.rsplit("/", 1)[-1]: hit.title
                for hit in (await bot.service.retrieve(Query("quotas"), limit=10)).hits
            }
        reasons = {s.source.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
        row.lost = 0 if found.relevant and found.relevant[0].source == "docs/good.md" else 1
        assert row.lost == 0
        assert "not a regular file" in reasons["pipe.md"]
        assert "not a regular file" in reasons["zero.md"]
        assert "deep.html" in reasons and "nest" in reasons["deep.html"]
        # Front matter that cannot be read safely is ignored: the page keeps its own heading.
        assert titles.get("bomb.md", "Bomb") == "Bomb"
        assert "bomb.md" not in reasons and "deep-front-matter.md" not in reasons
