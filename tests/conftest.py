"""Shared fixtures: a clean environment, explicit settings, and the FAQ collection built once."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from core.container import Helpbot
from core.learning.sqlite_answer_log import SqliteAnswerLog
from core.search.milvus.pymilvus_import import MilvusClient
from core.settings import Settings
from tests.milvus_servers.servers import MILVUS_2_3_5_PYTHON, MilvusServer
from tests.standins.discord_server import DiscordStandIn
from tests.standins.docs_site import Site, running_site
from tests.support import BACKENDS, SETTINGS_CLASSES, faq_dir, running_redis, write


@pytest.fixture(scope="session", autouse=True)
def clean_environment() -> Iterator[None]:
    """No test reads the developer's settings: helpbot's variables are cleared for the session."""
    with pytest.MonkeyPatch.context() as patch:
        for settings_class in SETTINGS_CLASSES:
            for name in settings_class.model_fields:
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


def _start_server(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusServer]:
    if kind == "milvus-2.3.5" and not MILVUS_2_3_5_PYTHON.exists():
        reason = f"no Milvus 2.3.5 at {MILVUS_2_3_5_PYTHON} (run scripts/bootstrap-milvus-2.3.5)"
        if os.environ.get("HELPBOT_REQUIRE_SERVERS"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = MilvusServer(kind, tmp_path_factory.mktemp(kind))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The test Redis, emptied for this test."""
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    client.close()
    return redis_server


@pytest.fixture(scope="session")
def milvus_lite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusServer]:
    yield from _start_server("milvus-lite", tmp_path_factory)


@pytest.fixture(scope="session")
def milvus_2_3_5_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusServer]:
    yield from _start_server("milvus-2.3.5", tmp_path_factory)


def server_for(backend: str, request: pytest.FixtureRequest) -> MilvusServer | None:
    """The running server of a backend (started on first use), None for the Lite file."""
    if backend == "lite":
        return None
    return request.getfixturevalue(
        "milvus_lite_server" if backend == "milvus-lite" else "milvus_2_3_5_server"
    )


@pytest.fixture
def milvus_backend(request: pytest.FixtureRequest) -> str:
    """The Lite file unless a test module parametrizes it (indirect) with BACKENDS."""
    return str(getattr(request, "param", "lite"))


@pytest.fixture
def make_settings(  # type: ignore[no-untyped-def]
    tmp_path: Path, embedding_cache: Path, milvus_backend: str, request: pytest.FixtureRequest
):
    """Settings for a test: a Milvus Lite file of its own (or, on a server backend, collections
    of its own, dropped afterwards), no `.env`, and the given overrides."""
    server = server_for(milvus_backend, request)
    prefix = f"t{uuid.uuid4().hex[:12]}_"

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "milvus_uri": str(tmp_path / "milvus.db"),
            "embedding_cache_path": embedding_cache,
        }
        if server is not None:
            values["milvus_uri"] = server.uri
            overrides["milvus_collection"] = prefix + str(
                overrides.get("milvus_collection", "helpbot")
            )
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    yield build
    if server is not None:
        client = MilvusClient(uri=server.uri)
        for name in client.list_collections():
            if name.startswith(prefix):
                client.drop_collection(name)
        client.close()


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


async def _faq_bot_on(server: MilvusServer, embedding_cache: Path) -> AsyncIterator[Helpbot]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        milvus_uri=server.uri,
        milvus_collection="faq",
        embedding_cache_path=embedding_cache,
    )
    async with Helpbot(settings) as bot:
        await bot.ingestor.sync([faq_dir()], bot.ingest_options())
        yield bot


@pytest.fixture(scope="session")
async def faq_bot_on_milvus_lite_server(
    milvus_lite_server: MilvusServer, embedding_cache: Path
) -> AsyncIterator[Helpbot]:
    async for bot in _faq_bot_on(milvus_lite_server, embedding_cache):
        yield bot


@pytest.fixture(scope="session")
async def faq_bot_on_milvus_2_3_5(
    milvus_2_3_5_server: MilvusServer, embedding_cache: Path
) -> AsyncIterator[Helpbot]:
    async for bot in _faq_bot_on(milvus_2_3_5_server, embedding_cache):
        yield bot


@pytest.fixture(scope="session", params=BACKENDS)
def faq_bot_on_each_backend(request: pytest.FixtureRequest) -> Helpbot:
    """The FAQ collection on each backend in turn: `faq_bot`'s Lite file, then a collection
    on each server, each ingested once per test session."""
    fixtures = {
        "lite": "faq_bot",
        "milvus-lite": "faq_bot_on_milvus_lite_server",
        "milvus-2.3.5": "faq_bot_on_milvus_2_3_5",
    }
    return request.getfixturevalue(fixtures[request.param])


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


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    """A docs website with a sitemap, on a loopback port."""
    async with running_site() as running:
        yield running


@pytest.fixture(params=["sqlite", "redis"])
def feedback_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The variables that choose a feedback store: a SQLite file, or a Redis URL."""
    if request.param == "redis":
        return {"REDIS_URL": request.getfixturevalue("redis_url")}
    return {"FEEDBACK_PATH": str(tmp_path / "data" / "feedback.sqlite")}


@pytest.fixture
async def discord_api() -> AsyncIterator[DiscordStandIn]:
    """The Discord stand-in, with discord.py pointed at it."""
    async with DiscordStandIn() as standin:
        with standin.patch_discord():
            yield standin


@pytest.fixture
async def feedback(tmp_path: Path) -> AsyncIterator[SqliteAnswerLog]:
    """An answer log in a SQLite file of the test's own."""
    store = SqliteAnswerLog(tmp_path / "feedback.sqlite")
    await store.start()
    yield store
    await store.stop()
