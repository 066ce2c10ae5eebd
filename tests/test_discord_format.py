"""What reaches a Discord channel cannot ping anyone and fits Discord's limits."""

from __future__ import annotations

from bots.discord.format import (
    CONTENT_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    MAX_FIELDS,
    content_pieces,
    sources_embed,
)
from bots.state.rate_limits import LocalRateLimiter
from core.models import Answer
from tests.support import source

PINGS = "@everyone @here <@123456789012345678> <@&987654321098765432> hello"


def test_mentions_in_answer_text_are_defused() -> None:
    [content] = content_pieces(PINGS)
    for raw in ("@everyone", "@here", "<@123456789012345678>", "<@&987654321098765432>"):
        assert raw not in content
    assert content.endswith("hello")


def test_long_answers_are_split_under_the_content_limit() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 150 for i in range(30))
    pieces = content_pieces(text)
    assert len(pieces) > 1 and all(len(p) <= CONTENT_LIMIT for p in pieces)
    assert sum(len(p) for p in pieces) >= len(text) - 2 * len(pieces)


def test_sources_embed_fits_every_limit_and_defuses_mentions() -> None:
    many = tuple(
        source(n, heading=PINGS + "x" * 300, snippet="y" * 3000, url=f"https://d.example/{n}")
        for n in range(1, 40)
    )
    embed = sources_embed(Answer("a", True, "generative", many))
    assert embed is not None
    assert len(embed.fields) <= MAX_FIELDS and len(embed) <= EMBED_TOTAL_LIMIT
    assert all(
        len(f.value or "") <= FIELD_VALUE_LIMIT and len(f.name or "") <= 256 for f in embed.fields
    )
    assert "@everyone" not in str(embed.to_dict())
    assert embed.fields[0].name.startswith("[1] FAQ > ")
    assert "(https://d.example/1)" in (embed.fields[0].value or "")


def test_dont_know_has_no_sources_embed() -> None:
    assert sources_embed(Answer("I don't know.", False, "extractive")) is None


async def test_cooldown_lets_a_user_ask_again_only_after_the_wait() -> None:
    now = [0.0]
    cooldown = LocalRateLimiter(10, clock=lambda: now[0])
    assert await cooldown.retry_after("u1") == 0
    assert await cooldown.retry_after("u2") == 0  # other users are not slowed down
    now[0] = 4.0
    assert await cooldown.retry_after("u1") == 6.0
    now[0] = 10.5
    assert await cooldown.retry_after("u1") == 0
    assert (
        await LocalRateLimiter(0).retry_after("u1")
        == await LocalRateLimiter(0).retry_after("u1")
        == 0
    )
