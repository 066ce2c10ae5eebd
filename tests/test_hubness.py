"""Each chunk's hubness is computed when its knowledge base changes and stored beside it, so a
question only looks it up: after every sync and forget, what is stored equals a brute-force
computation over the knowledge base as it now is, on every backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.container import Helpbot
from core.search.milvus.hubness import hubness_collection
from tests.support import BACKENDS, write

pytestmark = pytest.mark.parametrize("milvus_backend", BACKENDS, indirect=True)

TOPICS = ["search", "indexes", "storage", "logging", "the proxy", "compaction", "backups"]


def _docs(root: Path) -> Path:
    for n, topic in enumerate(TOPICS):
        write(root / f"page{n}.md", f"# Page {n}\n\n## About {topic}\n\nHow {topic} works.\n")
    return root


def _stored(bot: Helpbot, kb: str) -> dict[str, float]:
    rows = bot.store.client.query(
        hubness_collection(bot.store.collection),
        filter=f'kb == "{kb}"',
        output_fields=["hubness"],
    )
    return {row["id"]: row["hubness"] for row in rows}


def _brute_force(bot: Helpbot, kb: str, neighbours: int = 10) -> dict[str, float]:
    rows = bot.store.client.query(
        bot.store.collection, filter=f'kb == "{kb}"', output_fields=["dense"]
    )
    ids = [row["id"] for row in rows]
    matrix = np.asarray([row["dense"] for row in rows], dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    similarity = matrix @ matrix.T
    np.fill_diagonal(similarity, -np.inf)
    k = min(neighbours, len(ids) - 1)
    nearest = np.sort(similarity, axis=1)[:, -k:].mean(axis=1)
    return dict(zip(ids, nearest.tolist(), strict=True))


def _assert_matches(bot: Helpbot, kb: str) -> None:
    stored, expected = _stored(bot, kb), _brute_force(bot, kb)
    assert stored.keys() == expected.keys()
    for cid, value in expected.items():
        assert stored[cid] == pytest.approx(value, abs=1e-4)


async def test_stored_hubness_follows_every_sync_and_forget(make_settings, tmp_path) -> None:
    docs = _docs(tmp_path / "docs")
    async with Helpbot(make_settings(chunk_min_chars=0)) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        _assert_matches(bot, "default")

        # Every chunk counts every other as a neighbour here: one more changes them all.
        write(docs / "extra.md", "# Extra\n\n## Search and storage\n\nSearch reads storage.\n")
        await bot.ingestor.sync([docs], bot.ingest_options())
        _assert_matches(bot, "default")

        (docs / "page0.md").unlink()
        await bot.ingestor.sync([docs], bot.ingest_options())
        _assert_matches(bot, "default")

        await bot.ingestor.forget("default", ["docs/page1.md"])
        _assert_matches(bot, "default")

        await bot.ingestor.forget("default", [])
        assert _stored(bot, "default") == {}


async def test_each_knowledge_base_has_its_own_neighbours(make_settings, tmp_path) -> None:
    async with Helpbot(make_settings(chunk_min_chars=0)) as bot:
        await bot.ingestor.sync([_docs(tmp_path / "a")], bot.ingest_options("alpha"))
        await bot.ingestor.sync([_docs(tmp_path / "b")], bot.ingest_options("beta"))
        _assert_matches(bot, "alpha")
        _assert_matches(bot, "beta")


async def test_a_collection_without_hubness_gets_it_at_the_next_sync(
    make_settings, tmp_path
) -> None:
    """A collection built before hubness was stored: an unchanged sync computes it."""
    docs = _docs(tmp_path / "docs")
    async with Helpbot(make_settings(chunk_min_chars=0)) as bot:
        report = await bot.ingestor.sync([docs], bot.ingest_options())
        bot.store.client.drop_collection(hubness_collection(bot.store.collection))
    async with Helpbot(make_settings(chunk_min_chars=0)) as bot:
        again = await bot.ingestor.sync([docs], bot.ingest_options())
        assert again.chunks_unchanged == report.chunks_added
        _assert_matches(bot, "default")
