"""Shared fixtures: a clean environment, explicit settings, and the FAQ collection built once."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from core.container import Helpbot
from core.settings import Settings
from support import PROJECT_ROOT, write


def shared_dir() -> Path:
    """`../shared` beside the project, or wherever HELPBOT_SHARED_DIR points."""
    return Path(os.environ.get("HELPBOT_SHARED_DIR", PROJECT_ROOT.parent / "shared"))


def faq_dir() -> Path:
    """The shared FAQ corpus; tests that need it skip without it, unless CI requires it."""
    path = shared_dir() / "corpus" / "milvus-docs-2.4.x" / "faq"
    if not path.is_dir():
        reason = f"the shared FAQ corpus is not at {path} (set HELPBOT_SHARED_DIR)"
        if os.environ.get("HELPBOT_REQUIRE_CORPUS"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session", autouse=True)
def clean_environment() -> Iterator[None]:
    """No test reads the developer's settings: helpbot's variables are cleared for the session."""
    with pytest.MonkeyPatch.context() as patch:
        for name in Settings.model_fields:
            patch.delenv(name.upper(), raising=False)
        yield


@pytest.fixture(autouse=True)
def empty_working_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test runs in an empty folder, so no `.env` is read and `./data` is its own."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def embedding_cache(pytestconfig: pytest.Config) -> Path:
    """One embedding cache in pytest's cache folder, so each text is embedded once, across
    sessions too (vectors depend only on the model and the text)."""
    return pytestconfig.cache.mkdir("helpbot-embeddings") / "embeddings.sqlite"


@pytest.fixture
def make_settings(tmp_path: Path, embedding_cache: Path):  # type: ignore[no-untyped-def]
    """Settings for a test: a Milvus Lite file of its own, no `.env`, and the given overrides."""

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "milvus_uri": str(tmp_path / "milvus.db"),
            "embedding_cache_path": embedding_cache,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture(scope="session")
async def faq_bot(
    tmp_path_factory: pytest.TempPathFactory, embedding_cache: Path
) -> AsyncIterator[Helpbot]:
    """A Helpbot over the shared FAQ corpus, ingested once per test session (extractive)."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        milvus_uri=str(tmp_path_factory.mktemp("faq") / "faq.db"),
        embedding_cache_path=embedding_cache,
    )
    async with Helpbot(settings) as bot:
        await bot.ingestor.sync([faq_dir()], bot.ingest_options())
        yield bot


@pytest.fixture
def docs(tmp_path: Path) -> Iterator[Path]:
    """A small documentation folder of three Markdown files."""
    root = tmp_path / "docs"
    write(
        root / "storage.md",
        "---\ntitle: Storage guide\n---\n# Storage\n\nIntro to storage.\n\n"
        "## Where is data kept?\n\nSegments are kept in object storage such as MinIO or S3.\n\n"
        "## Backups\n\nSnapshots are taken nightly by the backup tool.\n",
    )
    write(
        root / "setup" / "install.md",
        "# Install\n\n## Requirements\n\nYou need Docker Compose and 8 GB of memory.\n",
    )
    write(root / "notes.txt", "Plain notes: the on-call rota lives in the wiki.\n")
    yield root
