"""A git repository as a source: cloned into the cache folder, only the files its glob names,
linked with {file}, and a new commit picked up at the next refresh (what `serve` does on the
source's interval)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from core.container import Helpbot
from core.ingest.live_sync import LiveSync
from core.ingest.sources_file import SourceSpec
from core.ingest.sources_sync import sync_source, sync_sources
from tests.standins.git_server import git_host
from tests.support import write

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "HOME": "/nonexistent",
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=GIT_ENV)


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


async def stored(bot: Helpbot) -> dict[str, str]:
    """Each stored source and its link."""
    rows = await asyncio.to_thread(
        bot.store.client.query,
        bot.store.collection,
        filter='id != ""',
        output_fields=["source", "url"],
    )
    return {row["source"]: row["url"] for row in rows}


async def test_a_git_source_is_cloned_and_follows_new_commits(
    make_settings, tmp_path: Path
) -> None:
    repo = tmp_path / "handbook"
    write(repo / "docs" / "backups.md", "# Backups\n\nBackups run every night at two.\n")
    write(repo / "README.md", "# Handbook\n\nNot under docs/, so not taken.\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=GIT_ENV)
    commit_all(repo, "first")
    spec = SourceSpec(
        "default",
        "git",
        str(repo),
        link="https://git.example.com/handbook/blob/main/{file}",
        refresh_s=0.2,
        glob="docs/*.md",
    )
    cache = tmp_path / "git-cache"
    async with Helpbot(make_settings()) as bot:
        stop = asyncio.Event()
        live = LiveSync(bot.ingestor, [spec], bot.ingest_options, cache)
        running = asyncio.create_task(live.run(stop))
        await asyncio.wait_for(live.first_sync_done.wait(), 30)
        cloned = await stored(bot)
        # A new commit after the first sync: only a refresh (a pull) can bring it in.
        (repo / "docs" / "backups.md").unlink()
        write(repo / "docs" / "restore.md", "# Restore\n\nRestore with the backup tool.\n")
        commit_all(repo, "second")
        for _ in range(100):
            if set(await stored(bot)) == {"handbook/docs/restore.md"}:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await running
        pulled = set(await stored(bot))
    assert cloned == {
        "handbook/docs/backups.md": "https://git.example.com/handbook/blob/main/docs/backups.md"
    }
    assert pulled == {"handbook/docs/restore.md"}
    assert (cache.stat().st_mode & 0o777) == 0o700


async def test_a_repository_that_cannot_be_fetched_keeps_its_chunks(
    make_settings, tmp_path: Path
) -> None:
    missing = SourceSpec("default", "git", str(tmp_path / "nowhere"), glob="*.md")
    async with Helpbot(make_settings()) as bot:
        outcome = await sync_source(bot.ingestor, missing, bot.ingest_options, tmp_path / "c")
    assert not outcome.ok and "git could not fetch" in str(outcome.error)


async def test_an_unexpected_failure_fails_its_source_and_not_the_others(
    make_settings, tmp_path: Path, docs: Path
) -> None:
    """A git cache that is not a folder (GIT_CACHE_DIR set to a file) raises an OSError, not
    one of helpbot's errors: that source is reported failing, the next one still syncs, and
    the sync goes on (an escaped error ended `serve`'s start, or a refresh for good)."""
    cache = tmp_path / "cache"
    cache.write_text("not a folder")
    specs = [
        SourceSpec("default", "git", str(tmp_path / "repo"), glob="*.md"),
        SourceSpec("default", "path", str(docs)),
    ]
    async with Helpbot(make_settings()) as bot:
        report = await sync_sources(bot.ingestor, specs, bot.ingest_options, cache)
    failed, synced = report.outcomes
    assert not failed.ok and "NotADirectoryError" in str(failed.error)
    assert synced.ok and synced.report is not None and synced.report.chunks_added > 0


async def test_a_private_repository_is_cloned_with_its_token_which_is_never_shown(
    make_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`token_env` names the variable; git sends the token as a header (not in the URL, not
    on a command line); a wrong one fails the source without printing either."""
    repo = tmp_path / "hosted" / "handbook"
    write(repo / "docs" / "backups.md", "# Backups\n\nBackups run every night at two.\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=GIT_ENV)
    commit_all(repo, "first")
    async with git_host(tmp_path / "hosted", token="s3cret-handbook-token") as host:
        spec = SourceSpec(
            "default", "git", host.url("handbook"), glob="docs/*.md", token_env="HANDBOOK_TOKEN"
        )
        async with Helpbot(make_settings()) as bot:
            monkeypatch.setenv("HANDBOOK_TOKEN", "s3cret-handbook-token")
            cloned = await sync_source(bot.ingestor, spec, bot.ingest_options, tmp_path / "a")
            links = await stored(bot)
            monkeypatch.setenv("HANDBOOK_TOKEN", "wrong-token-value")
            refused = await sync_source(bot.ingestor, spec, bot.ingest_options, tmp_path / "b")
    assert cloned.ok, cloned.error
    assert set(links) == {"handbook/docs/backups.md"}
    assert not refused.ok and host.refused > 0
    assert "wrong-token-value" not in str(refused.error)
    assert "s3cret" not in str(refused.error) and "s3cret" not in json.dumps(links)
