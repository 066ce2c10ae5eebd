"""Small helpers the tests share."""

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import openai
import pytest
import redis
from pydantic_settings import BaseSettings

from bots.discord.settings import DiscordSettings
from bots.slack.settings import SlackSettings
from core.answering.llm import OpenAIChatModel
from core.answering.service import RagService, ServiceConfig
from core.container import Helpbot
from core.models import Source
from core.settings import Settings
from tests.standins.openai_server import OpenAIStandIn

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Every settings class helpbot reads from the environment and `.env`.
SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (Settings, SlackSettings, DiscordSettings)

# Where the Milvus tests run: the embedded Lite file (the default), `milvus-lite server`, and
# the real Milvus 2.3.5 standalone (dense-only: it has no BM25 or hybrid search).
BACKENDS = ("lite", "milvus-lite", "milvus-2.3.5")


# CI and development machines run as root, whom file modes do not stop: a command prefixed
# with this runs without the capabilities that let root read and write anything.
WITHOUT_OVERRIDES = ("setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search")


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


def write(path: Path, text: str) -> Path:
    """Write a UTF-8 file, creating its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def generative(bot: Helpbot, llm: OpenAIStandIn, **config: object) -> RagService:
    """A bot's retrieval with a chat model at the OpenAI-compatible stand-in."""
    client = openai.AsyncOpenAI(
        base_url=llm.base_url,
        api_key=str(config.pop("api_key", "test-key")),
        max_retries=1,
        timeout=config.pop("timeout", 5.0),  # type: ignore[arg-type]
    )
    values = {"relevance_threshold": bot.settings.relevance_threshold, **config}
    return RagService(
        bot.embedder,
        bot.store,
        OpenAIChatModel(client, "stand-in", 0.1),
        ServiceConfig(**values),  # type: ignore[arg-type]
        latent=bot.latent,
    )


def source(number: int, **fields: object) -> Source:
    """A Source with plain defaults; tests override the fields they are about."""
    values: dict = {
        "source": "faq/a.md",
        "title": "FAQ",
        "heading": "H",
        "snippet": "s",
        "score": 0.9,
        "url": None,
    }
    values.update(fields)
    return Source(number, **values)


def free_port() -> int:
    """A port nothing listens on right now, for servers that take a fixed port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def post_event(
    base: str, body: bytes, headers: dict[str, str], content_type: str = "application/json"
) -> int:
    """POST a (signed) delivery to a Slack bot's /slack/events at `base`; the HTTP status."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{base}/slack/events", data=body, headers={"Content-Type": content_type, **headers}
        ) as response,
    ):
        await response.read()
        return response.status


async def http_get(url: str) -> tuple[int, str]:
    """Status and body of a GET, retried while the server is still coming up."""
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            try:
                async with session.get(url) as response:
                    return response.status, await response.text()
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise AssertionError(f"nothing answered at {url}")


@contextlib.contextmanager
def running_redis(workdir: Path) -> Iterator[str]:
    """A real `redis-server` on a free local port, without persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("HELPBOT_REQUIRE_SERVERS"):
            pytest.fail(reason)
        pytest.skip(reason)
    for _ in range(5):  # the free port may be taken between the probe and the bind
        port = free_port()
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                *options,
                "--dir",
                str(workdir),
                "--logfile",
                "redis.log",
            ],
            stdin=subprocess.DEVNULL,
        )
        with contextlib.closing(redis.Redis(port=port)) as client:
            for _ in range(100):
                if process.poll() is not None:
                    break
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
        if process.poll() is None:
            try:
                yield f"redis://127.0.0.1:{port}/0"
            finally:
                process.terminate()
                process.wait(10)
            return
    pytest.fail(f"redis-server did not start; see {workdir / 'redis.log'}")
