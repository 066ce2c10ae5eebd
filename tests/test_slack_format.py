"""What reaches a Slack channel is escaped, compact, and within Slack's limits."""

from __future__ import annotations

import json

from bots.slack.format import (
    MAX_BLOCKS,
    MESSAGE_CHARS,
    SECTION_LIMIT,
    answer_messages,
    escape,
    message_parts,
)
from bots.state.event_dedup import LocalEventDeduplicator
from core.models import Answer
from tests.support import source

PINGS = "<!channel> <!here> <@U123> <!subteam^S1> <https://evil.example|the docs>"


def test_mentions_and_disguised_links_from_documents_or_models_are_escaped() -> None:
    answer = Answer(
        PINGS, True, "generative", (source(1, heading=PINGS, snippet=PINGS, title="<!everyone>"),)
    )
    rendered = json.dumps(answer_messages(answer, "a1"))
    for raw in ("<!channel>", "<!here>", "<@U123>", "<!subteam", "<https://evil", "<!everyone>"):
        assert raw not in rendered
    assert "&lt;!channel&gt;" in rendered
    assert escape("a & b") == "a &amp; b"


def test_long_answers_are_split_into_messages_and_sections_within_the_limits() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "word & " * 400 for i in range(80))
    messages = answer_messages(Answer(text, True, "generative", (source(1),)), "a1")
    sections = [b for blocks in messages for b in blocks if b["type"] == "section"]
    assert all(len(blocks) <= MAX_BLOCKS for blocks in messages)
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in sections)
    assert messages[-1][-1]["type"] == "actions"  # the vote buttons close the last message
    shown = " ".join(b["text"]["text"] for b in sections)
    assert shown.split() == escape(text).split()  # every word, none cut in two


def test_message_parts_keep_every_character_and_every_entity_whole() -> None:
    text = escape("<&>" * 10_000)  # no space to cut at: only entities
    parts = message_parts(text)
    assert "".join(parts) == text
    assert all(len(part) <= MESSAGE_CHARS for part in parts)
    assert all(part.endswith(";") for part in parts)


def test_sources_show_number_label_path_and_link_and_buttons_carry_the_answer_id() -> None:
    answer = Answer(
        "See [1].", True, "extractive", (source(1, url="https://milvus.io/docs/product_faq.md"),)
    )
    [blocks] = answer_messages(answer, "answer-42")
    [context] = [b for b in blocks if b["type"] == "context"]
    line = context["elements"][0]["text"]
    assert line == "[1] <https://milvus.io/docs/product_faq.md|FAQ &gt; H> · `faq/a.md`\ns"
    buttons = blocks[-1]["elements"]
    assert [b["value"] for b in buttons] == ["answer-42", "answer-42"]


def test_dont_know_has_no_sources_block() -> None:
    [blocks] = answer_messages(Answer("I don't know.", False, "extractive"), "a1")
    assert [b["type"] for b in blocks] == ["section", "actions"]


async def test_a_key_is_claimed_once_until_it_expires() -> None:
    now = [0.0]
    recent = LocalEventDeduplicator(ttl_s=10, clock=lambda: now[0])
    assert await recent.claim("event:E1", "message:C1:1.0")
    assert not await recent.claim("message:C1:1.0")  # same message as app_mention and message
    assert not await recent.claim("event:E1")
    now[0] = 11.0
    assert await recent.claim("event:E1")
