"""Small helpers the tests share."""

import asyncio
import socket
from pathlib import Path

import aiohttp
import openai

from core.container import Helpbot
from core.llm import OpenAIChatModel
from core.models import Source
from core.service import RagService, ServiceConfig
from standins.openai_server import OpenAIStandIn

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
        bot.embedder, bot.store, OpenAIChatModel(client, "stand-in", 0.1), ServiceConfig(**values)
    )  # type: ignore[arg-type]


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
