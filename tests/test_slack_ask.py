"""`/ask` never goes silent: the asker sees "searching" at once, then the answer, through the
command's response_url where the bot cannot post, and an apology if anything fails."""

from __future__ import annotations

from pathlib import Path

from core import Place, Routing
from core.container import Helpbot
from tests.standins import slack_payloads as payloads
from tests.standins.slack_server import SlackStandIn
from tests.test_slack_bot import CHANNEL, USER, context_texts, running

QUESTION = "How is data stored in milvus?"


class BrokenRouting(Routing):
    """A routing whose every decision fails, as a bug outside the answering loop would."""

    def scope(self, place: Place) -> tuple[str, ...]:
        raise RuntimeError("routing is broken")


async def test_ask_says_it_is_searching_at_once_then_answers(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    async with SlackStandIn() as slack, running(slack, faq_bot.service, tmp_path):
        envelope = await slack.push(
            "slash_commands", payloads.slash_command("/ask", QUESTION, channel=CHANNEL, user=USER)
        )
        ack = await slack.wait_for_ack(envelope)
        [post] = await slack.wait_for("chat.postMessage")
    assert ack["payload"]["text"] == "Searching the docs…"
    assert ack["payload"]["response_type"] == "ephemeral"
    assert "Where does Milvus store data?" in context_texts(post.params["blocks"][1:])


async def test_ask_where_the_bot_is_not_in_the_channel_answers_through_response_url(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    async with SlackStandIn() as slack, running(slack, faq_bot.service, tmp_path):
        slack.fail_with("chat.postMessage", error="not_in_channel")
        command = payloads.slash_command(
            "/ask", QUESTION, channel="C0NOTIN", user=USER, response_url=slack.new_response_url()
        )
        await slack.push("slash_commands", command)
        [answer] = await slack.wait_for("response_url")
        await slack.wait_for("chat.postMessage")
    assert answer.params["response_type"] == "in_channel"
    assert answer.params["replace_original"] is False
    blocks = answer.params["blocks"]
    assert f"<@{USER}> asked: {QUESTION}" in context_texts(blocks[:1])
    assert "Where does Milvus store data?" in context_texts(blocks[1:])
    assert slack.refusals == []  # one post, within what a response_url takes
    assert not slack.calls_to("chat.startStream")


async def test_ask_private_where_ephemerals_are_refused_answers_through_response_url(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    async with SlackStandIn() as slack, running(slack, faq_bot.service, tmp_path):
        slack.fail_with("chat.postEphemeral", error="channel_not_found")
        command = payloads.slash_command(
            "/ask", f"private {QUESTION}", channel="C0NOTIN", user=USER
        )
        command["response_url"] = slack.new_response_url()
        await slack.push("slash_commands", command)
        [answer] = await slack.wait_for("response_url")
    assert answer.params["response_type"] == "ephemeral"
    assert "Where does Milvus store data?" in context_texts(answer.params["blocks"])
    assert not slack.calls_to("chat.postMessage")


async def test_a_failure_outside_the_answering_loop_still_tells_the_asker(
    faq_bot: Helpbot, tmp_path: Path
) -> None:
    routing = BrokenRouting((), {})
    async with SlackStandIn() as slack, running(slack, faq_bot.service, tmp_path, routing):
        command = payloads.slash_command(
            "/ask", QUESTION, channel=CHANNEL, user=USER, response_url=slack.new_response_url()
        )
        envelope = await slack.push("slash_commands", command)
        [apology] = await slack.wait_for("response_url")
        ack = await slack.wait_for_ack(envelope)
    assert ack["payload"]["text"] == "Searching the docs…"
    assert apology.params["response_type"] == "ephemeral"
    assert apology.params["text"].startswith("Sorry")
    assert "Traceback" not in apology.params["text"]
