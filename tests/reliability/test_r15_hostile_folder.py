"""Case 15: one folder holding every hostile input at once (an unreadable subfolder that was
ingested before, a FIFO, a link to /dev/zero, a YAML alias bomb, front matter and HTML nested
5,000 deep, a link to a file outside the folder), synced by an ordinary user: it finishes,
keeps the unreadable folder's chunks, leaks nothing from outside and indexes the rest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.reliability.ledger import Ledger
from tests.reliability.test_r14_hostile_files import ALIAS_BOMB
from tests.support import WITHOUT_OVERRIDES, write

HELPBOT = str(Path(sys.executable).with_name("helpbot"))


def ingest(docs: Path, env: dict[str, str], as_a_user: bool = False) -> dict:
    result = subprocess.run(
        [*(WITHOUT_OVERRIDES if as_a_user else ()), HELPBOT, "ingest", "--json", str(docs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # a guard against a hang, not a speed check: the figure is printed
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_one_folder_of_every_hostile_input_keeps_and_indexes_what_it_must(
    tmp_path: Path, embedding_cache: Path, ledger: Ledger
) -> None:
    env = {
        **os.environ,
        "MILVUS_URI": str(tmp_path / "data" / "helpbot.db"),
        "EMBEDDING_CACHE_PATH": str(embedding_cache),
    }
    docs = tmp_path / "docs"
    write(docs / "good.md", "# Backups\n\n## When do backups run?\n\nEvery night at two.\n")
    write(docs / "locked" / "kept.md", "# Restore\n\nRestore with the backup tool.\n")
    first = ingest(docs, env)
    secret = write(tmp_path / "private" / "notes.md", "# Notes\n\nThe vault code is 4711.\n")
    os.mkfifo(docs / "pipe.md")
    (docs / "zero.md").symlink_to("/dev/zero")
    (docs / "leak.md").symlink_to(secret)
    write(docs / "bomb.md", ALIAS_BOMB)
    write(docs / "deep-front-matter.md", "---\ntitle: " + "[" * 5000 + "\n---\n# Deep\n\nText.\n")
    write(docs / "deep.html", "<html><body>" + "<div>" * 5_000 + "Deep text." + "</div>" * 5_000)
    hostile = ["locked", "pipe.md", "zero.md", "leak.md", "bomb.md", "deep-front-matter.md"]
    hostile.append("deep.html")
    with ledger.case("15. one folder of every hostile input", tried=len(hostile)) as row:
        (docs / "locked").chmod(0)
        started = time.monotonic()
        try:
            report = ingest(docs, env, as_a_user=True)
        finally:
            (docs / "locked").chmod(0o755)
        print(f"case 15: the hostile folder synced in {time.monotonic() - started:.1f} s")
        again = ingest(docs, env)
        reasons = {s["source"].removeprefix("docs/"): s["reason"] for s in report["skipped"]}
        row.lost = report["chunks_deleted"] + again["chunks_added"]
        row.leaks = int("leak.md" not in reasons)
        assert row.lost == row.leaks == 0
        assert set(reasons) == {"locked", "pipe.md", "zero.md", "leak.md", "deep.html"}
        # The alias bomb and the deep front matter are indexed, their front matter ignored.
        assert report["files"] == 3 and first["files"] == 2
        assert again["chunks_unchanged"] == first["chunks_added"] + report["chunks_added"]
