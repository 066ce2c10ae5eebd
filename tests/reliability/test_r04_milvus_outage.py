"""Case 4: the Milvus server stops, questions get a friendly error, it comes back, and the
same bot process answers again without a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.container import Helpbot
from tests.milvus_servers.servers import MilvusServer
from tests.reliability.harness import HttpSlack, http_slack, mention_body, signed
from tests.reliability.ledger import Ledger
from tests.support import faq_dir


async def ask(bot: HttpSlack, n: int) -> str:
    """Ask in a channel of its own; "answer" or the apology posted."""
    channel = f"C0OUT{n}"
    body = mention_body(f"1700400{n:03d}.000001", channel=channel)
    assert await bot.post(body, signed(body)) == 200
    return await bot.reply_in(channel)


async def test_milvus_down_then_back_needs_no_restart(
    tmp_path: Path, embedding_cache: Path, make_settings, ledger: Ledger, sent: list[Any]
) -> None:
    server = MilvusServer("milvus-lite", tmp_path / "milvus")
    server.start()
    try:
        settings = make_settings(milvus_uri=server.uri, milvus_collection="outage")
        with ledger.case("4. Milvus down, then back", tried=3) as row:
            async with Helpbot(settings) as helpbot:
                await helpbot.ingestor.sync([faq_dir()], helpbot.ingest_options())
                async with http_slack(helpbot.service, tmp_path, sent) as bot:
                    before = await ask(bot, 1)
                    server.stop()
                    during = await ask(bot, 2)
                    server.start()  # same port, same data
                    after = await ask(bot, 3)
            row.lost = sum(1 for reply in (before, during, after) if not reply)
            assert before == "answer" and after == "answer"
            assert during.startswith("Sorry") and "Traceback" not in during
    finally:
        server.stop()
