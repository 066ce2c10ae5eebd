"""What helpbot exposes without being asked: the health port listens on loopback unless told
otherwise, data files are readable by their owner only, and a data file another process holds
is reported as such."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bots.cli.parser import build_parser
from bots.cli.running import HealthOptions, Listening, health_server
from bots.ops.metrics import Metrics
from core import FileInUseError, Settings
from core.container import Helpbot
from core.search.embedding_cache import EmbeddingCache
from tests.support import PROJECT_ROOT, http_get


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def test_the_health_port_listens_on_loopback_unless_health_host_says_otherwise(
    faq_bot: Helpbot, capsys: pytest.CaptureFixture[str]
) -> None:
    listening = Listening()
    async with health_server(
        settings(health_port=0), HealthOptions(), faq_bot, Metrics(), listening
    ):
        port = listening.ports["health"]
        assert (await http_get(f"http://127.0.0.1:{port}/healthz"))[0] == 200
    assert f"http://127.0.0.1:{port}/metrics" in capsys.readouterr().out


def test_the_health_host_option_overrides_the_setting_which_defaults_to_loopback() -> None:
    assert settings().health_host == "127.0.0.1"
    from_setting = settings(health_host="0.0.0.0", health_port=8080)
    assert HealthOptions().resolved(from_setting) == HealthOptions(8080, "0.0.0.0")
    assert HealthOptions(9000, "10.0.0.7").resolved(from_setting) == HealthOptions(9000, "10.0.0.7")
    # The option's default defers to HEALTH_HOST rather than naming an address of its own.
    for command in (["slack"], ["discord"], ["ingest", "docs"]):
        assert build_parser().parse_args(command).health_host is None


def test_the_image_opens_the_health_port_to_other_containers() -> None:
    """In a container, loopback is unreachable from the orchestrator: the image sets
    HEALTH_HOST=0.0.0.0 for every command."""
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    env = re.search(r"^ENV (.*?)(?:\n(?!\s)|\Z)", dockerfile, re.M | re.S)
    assert env is not None and "HEALTH_HOST=0.0.0.0" in env.group(1)


def test_the_embedding_cache_is_a_private_file_in_a_private_folder(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    path = tmp_path / "new" / "deeper" / "cache.sqlite"
    cache = EmbeddingCache(path)
    cache.close()
    assert mode(path) == 0o600
    assert mode(path.parent) == mode(path.parent.parent) == 0o700
    assert mode(tmp_path) == 0o755  # a folder that was already there is left as it was


def test_sqlite_side_files_of_a_private_file_are_private(tmp_path: Path) -> None:
    """SQLite gives its -wal, -shm and -journal files the database file's mode."""
    path = tmp_path / "cache.sqlite"
    EmbeddingCache(path).close()
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("INSERT INTO vectors VALUES ('m', 'k', x'00')")
        db.commit()
        side_files = [Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert [mode(side) for side in side_files] == [0o600, 0o600]
    finally:
        db.close()


def test_an_existing_cache_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    sqlite3.connect(path).close()
    os.chmod(path, 0o640)
    EmbeddingCache(path).close()
    assert mode(path) == 0o640


@pytest.fixture
def locked_cache(tmp_path: Path) -> Iterator[Path]:
    """An embedding cache file another connection holds an exclusive lock on."""
    path = tmp_path / "cache.sqlite"
    EmbeddingCache(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    yield path
    other.execute("ROLLBACK")
    other.close()


def test_an_embedding_cache_locked_by_another_process_is_named_in_a_clear_error(
    locked_cache: Path,
) -> None:
    with pytest.raises(FileInUseError) as raised:
        EmbeddingCache(locked_cache, busy_timeout_s=0.2)
    assert str(locked_cache) in str(raised.value)
    assert "another process" in str(raised.value)


async def test_a_cache_locked_while_in_use_is_named_in_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    cache = EmbeddingCache(path, busy_timeout_s=0.2)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(FileInUseError, match="another process"):
            await cache.put_many("m", {"k": np.zeros(3, dtype=np.float32)})
        with pytest.raises(FileInUseError, match="another process"):
            await cache.get_many("m", ["k"])
    finally:
        other.execute("ROLLBACK")
        other.close()
        cache.close()
