"""What reaches a Slack channel is escaped, compact, and within Slack's limits."""

from __future__ import annotations

import json

from bots.slack.format import MAX_BLOCKS, SECTION_LIMIT, escape, full_message
from bots.state.event_dedup import LocalEventDeduplicator
from core.models import Answer
from tests.support import source

PINGS = "<!channel> <!here> <@U123> <!subteam^S1> <https://evil.example|the docs>"


def test_mentions_and_disguised_links_from_documents_or_models_are_escaped() -> None:
    answer = Answer(
        PINGS, True, "generative", (source(1, heading=PINGS, snippet=PINGS, title="<!everyone>"),)
    )
    rendered = json.dumps(full_message(answer, "a1"))
    for raw in ("<!channel>", "<!here>", "<@U123>", "<!subteam", "<https://evil", "<!everyone>"):
        assert raw not in rendered
    assert "&lt;!channel&gt;" in rendered
    assert escape("a & b") == "a &amp; b"


def test_long_answers_are_split_into_sections_within_the_block_limit() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 400 for i in range(80))
    blocks = full_message(Answer(text, True, "generative", (source(1),)), "a1")
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in sections)
    assert blocks[-1]["type"] == "actions"  # the vote buttons always survive the cut


def test_sources_show_number_label_path_and_link_and_buttons_carry_the_answer_id() -> None:
    answer = Answer(
        "See [1].", True, "extractive", (source(1, url="https://milvus.io/docs/product_faq.md"),)
    )
    blocks = full_message(answer, "answer-42")
    [context] = [b for b in blocks if b["type"] == "context"]
    line = context["elements"][0]["text"]
    assert line == "[1] <https://milvus.io/docs/product_faq.md|FAQ &gt; H> · `faq/a.md`\ns"
    buttons = blocks[-1]["elements"]
    assert [b["value"] for b in buttons] == ["answer-42", "answer-42"]


def test_dont_know_has_no_sources_block() -> None:
    blocks = full_message(Answer("I don't know.", False, "extractive"), "a1")
    assert [b["type"] for b in blocks] == ["section", "actions"]


async def test_a_key_is_claimed_once_until_it_expires() -> None:
    now = [0.0]
    recent = LocalEventDeduplicator(ttl_s=10, clock=lambda: now[0])
    assert await recent.claim("event:E1", "message:C1:1.0")
    assert not await recent.claim("message:C1:1.0")  # same message as app_mention and message
    assert not await recent.claim("event:E1")
    now[0] = 11.0
    assert await recent.claim("event:E1")
