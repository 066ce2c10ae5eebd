"""The Slack stand-in, driven by the real `slack_sdk` and `slack_bolt` clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.standins.slack_payloads import (
    app_mention,
    block_actions,
    bot_message,
    interaction_body,
    message_im,
    signed_headers,
    slash_command,
    slash_command_body,
    thread_reply,
)
from tests.standins.slack_server import SlackStandIn

CHANNEL = "C0DOCS"
USER = "U0ALICE"
QUESTION_TS = "1700000000.000100"


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn() as standin:
        yield standin


def web_client(slack: SlackStandIn, **options: Any) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=slack.api_url, **options)


async def test_auth_test_names_the_bot_and_is_recorded(slack: SlackStandIn) -> None:
    reply = await web_client(slack).auth_test()

    assert (reply["user_id"], reply["bot_id"], reply["team_id"]) == ("U0BOT", "B0BOT", "T0TEAM")
    assert "chat:write" in reply.headers["x-oauth-scopes"]
    [call] = slack.calls_to("auth.test")
    assert call.token == "xoxb-test"
    assert call.headers["authorization"] == "Bearer xoxb-test"
    assert slack.timeline == ["call:auth.test"]


async def test_posted_replies_get_increasing_ts_and_join_the_seeded_thread(
    slack: SlackStandIn,
) -> None:
    slack.seed_thread(
        CHANNEL,
        QUESTION_TS,
        [{"user": USER, "text": "<@U0BOT> where is data kept?"}, {"user": "U0BOB", "text": "+1"}],
    )
    client = web_client(slack)
    first = await client.chat_postMessage(channel=CHANNEL, thread_ts=QUESTION_TS, text="Looking")
    second = await client.chat_postMessage(channel=CHANNEL, thread_ts=QUESTION_TS, text="In S3")
    replies = await client.conversations_replies(channel=CHANNEL, ts=QUESTION_TS)

    assert QUESTION_TS < first["ts"] < second["ts"]
    assert first["message"]["bot_id"] == "B0BOT"
    texts = [m["text"] for m in replies["messages"]]
    assert texts == ["<@U0BOT> where is data kept?", "+1", "Looking", "In S3"]
    parent, *rest = replies["messages"]
    assert parent["reply_count"] == 3
    assert parent["reply_users"] == ["U0BOB", "U0BOT"]
    assert {m["thread_ts"] for m in rest} == {QUESTION_TS}
    assert {m["parent_user_id"] for m in rest} == {USER}
    assert slack.calls_to("chat.postMessage")[0].params["text"] == "Looking"
    call = slack.calls_to("conversations.replies")[0]
    assert call.http_verb == "GET"


async def test_conversations_replies_pages_with_a_cursor(slack: SlackStandIn) -> None:
    slack.seed_thread(CHANNEL, QUESTION_TS, [{"user": USER, "text": str(n)} for n in range(5)])
    client = web_client(slack)

    # The response object turns into each next page in place.
    pages = []
    async for page in await client.conversations_replies(channel=CHANNEL, ts=QUESTION_TS, limit=2):
        pages.append([m["text"] for m in page["messages"]])

    assert pages == [["0", "1"], ["2", "3"], ["4"]]


async def test_unknown_thread_and_unknown_method_are_slack_errors(slack: SlackStandIn) -> None:
    client = web_client(slack)
    with pytest.raises(SlackApiError) as missing:
        await client.conversations_replies(channel=CHANNEL, ts="1.000001")
    with pytest.raises(SlackApiError) as unknown:
        await client.api_call("admin.users.list")

    assert missing.value.response["error"] == "thread_not_found"
    assert unknown.value.response["error"] == "unknown_method"


async def test_rate_limited_call_is_retried_by_the_sdk_handler(slack: SlackStandIn) -> None:
    slack.fail_with("chat.postMessage", retry_after=0)
    client = web_client(slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])

    reply = await client.chat_postMessage(channel=CHANNEL, text="hello")

    assert reply["ok"] is True
    first, second = slack.calls_to("chat.postMessage")
    assert first.params == second.params


async def test_rate_limit_without_a_retry_handler_surfaces_retry_after(slack: SlackStandIn) -> None:
    slack.fail_with("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        await web_client(slack).chat_postMessage(channel=CHANNEL, text="hello")

    assert caught.value.response.status_code == 429
    assert caught.value.response["error"] == "ratelimited"
    assert caught.value.response.headers["Retry-After"] == "7"


async def test_scripted_error_comes_first_then_reactions_work(slack: SlackStandIn) -> None:
    slack.fail_with("reactions.add", error="missing_scope", times=2)
    client = web_client(slack)
    for _ in range(2):
        with pytest.raises(SlackApiError) as caught:
            await client.reactions_add(channel=CHANNEL, name="eyes", timestamp=QUESTION_TS)
        assert caught.value.response.status_code == 200
        assert caught.value.response["error"] == "missing_scope"

    slack.seed_thread(CHANNEL, QUESTION_TS, [{"user": USER, "text": "hi"}])
    await client.reactions_add(channel=CHANNEL, name="eyes", timestamp=QUESTION_TS)
    with pytest.raises(SlackApiError, match="already_reacted"):
        await client.reactions_add(channel=CHANNEL, name="eyes", timestamp=QUESTION_TS)
    await client.reactions_remove(channel=CHANNEL, name="eyes", timestamp=QUESTION_TS)
    assert "reactions" not in slack.thread(CHANNEL, QUESTION_TS)[0]
    assert slack.calls_to("reactions.add")[-1].params == {
        "channel": CHANNEL,
        "name": "eyes",
        "timestamp": QUESTION_TS,
    }


async def test_chat_stream_helper_streams_into_the_thread(slack: SlackStandIn) -> None:
    slack.seed_thread(CHANNEL, QUESTION_TS, [{"user": USER, "text": "<@U0BOT> where?"}])
    client = web_client(slack)

    stream = await client.chat_stream(
        channel=CHANNEL,
        thread_ts=QUESTION_TS,
        recipient_user_id=USER,
        recipient_team_id="T0TEAM",
        buffer_size=8,
    )
    for piece in ["Segments live ", "in object ", "storage [1]."]:
        await stream.append(markdown_text=piece)
    final = await stream.stop(blocks=[{"type": "context", "elements": []}])

    [start] = slack.calls_to("chat.startStream")
    appends = slack.calls_to("chat.appendStream")
    [stop] = slack.calls_to("chat.stopStream")
    assert start.params["recipient_user_id"] == USER
    assert start.params["thread_ts"] == QUESTION_TS
    assert start.params["chunks"] == [{"type": "markdown_text", "text": "Segments live "}]
    assert len(appends) == 2
    assert final["message"]["text"] == "Segments live in object storage [1]."
    streamed = slack.thread(CHANNEL, QUESTION_TS)[-1]
    assert stop.params["ts"] == stream.ts == streamed["ts"]
    assert streamed["text"] == "Segments live in object storage [1]."
    assert streamed["blocks"] == [{"type": "context", "elements": []}]
    with pytest.raises(SlackApiError, match="message_not_in_streaming_state"):
        await client.chat_appendStream(channel=CHANNEL, ts=streamed["ts"], markdown_text="more")


async def test_streaming_in_a_channel_needs_the_recipient(slack: SlackStandIn) -> None:
    client = web_client(slack)
    with pytest.raises(SlackApiError, match="missing_recipient_user_id"):
        await client.chat_startStream(channel=CHANNEL, thread_ts=QUESTION_TS, markdown_text="x")

    # In a DM the recipient is implied.
    reply = await client.chat_startStream(channel="D0ALICE", thread_ts=QUESTION_TS)
    assert reply["ts"]


async def test_without_streaming_the_helper_fails_and_chat_update_still_works() -> None:
    async with SlackStandIn(streaming_available=False) as slack:
        client = web_client(slack)
        stream = await client.chat_stream(
            channel=CHANNEL, thread_ts=QUESTION_TS, recipient_user_id=USER, recipient_team_id="T0"
        )
        await stream.append(markdown_text="short")  # buffered: nothing sent yet
        assert slack.calls == []
        with pytest.raises(SlackApiError) as caught:
            await stream.stop()

        placeholder = await client.chat_postMessage(
            channel=CHANNEL, thread_ts=QUESTION_TS, text="…"
        )
        await client.chat_update(channel=CHANNEL, ts=placeholder["ts"], text="The answer [1]")

        assert caught.value.response["error"] == "unknown_method"
        [reply] = slack.thread(CHANNEL, QUESTION_TS)
        assert reply["text"] == "The answer [1]"
        assert "edited" in reply


async def test_limits_and_ownership_are_enforced(slack: SlackStandIn) -> None:
    slack.seed_thread(CHANNEL, QUESTION_TS, [{"user": USER, "text": "hi"}])
    client = web_client(slack)
    with pytest.raises(SlackApiError, match="msg_too_long"):
        await client.chat_postMessage(channel=CHANNEL, text="x" * 40_001)
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        await client.chat_postMessage(channel=CHANNEL, text="x", blocks=[{"type": "divider"}] * 51)
    with pytest.raises(SlackApiError, match="cant_update_message"):
        await client.chat_update(channel=CHANNEL, ts=QUESTION_TS, text="not mine")
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        await AsyncWebClient(token="xapp-1-test", base_url=slack.api_url).auth_test()


async def test_context_blocks_hold_at_most_ten_elements(slack: SlackStandIn) -> None:
    client = web_client(slack)
    element = {"type": "mrkdwn", "text": "[1] a source"}
    await client.chat_postMessage(
        channel=CHANNEL, text="x", blocks=[{"type": "context", "elements": [element] * 10}]
    )
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        await client.chat_postMessage(
            channel=CHANNEL, text="x", blocks=[{"type": "context", "elements": [element] * 11}]
        )
    stream = await client.chat_startStream(channel="D0ALICE", thread_ts=QUESTION_TS)
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        await client.chat_stopStream(
            channel="D0ALICE",
            ts=stream["ts"],
            blocks=[{"type": "context", "elements": [element] * 19}],
        )


async def test_streaming_refuses_more_than_twelve_thousand_characters(
    slack: SlackStandIn,
) -> None:
    """12,000 characters a call (documented), and about as many in one streamed message."""
    client = web_client(slack)
    with pytest.raises(SlackApiError, match="msg_too_long"):
        await client.chat_startStream(
            channel="D0ALICE", thread_ts=QUESTION_TS, markdown_text="x" * 12_001
        )
    stream = await client.chat_startStream(
        channel="D0ALICE", thread_ts=QUESTION_TS, markdown_text="x" * 6_000
    )
    await client.chat_appendStream(channel="D0ALICE", ts=stream["ts"], markdown_text="y" * 6_000)
    with pytest.raises(SlackApiError, match="msg_too_long"):
        await client.chat_appendStream(channel="D0ALICE", ts=stream["ts"], markdown_text="z")
    with pytest.raises(SlackApiError, match="msg_too_long"):
        await client.chat_stopStream(channel="D0ALICE", ts=stream["ts"], markdown_text="z")
    await client.chat_stopStream(channel="D0ALICE", ts=stream["ts"])
    assert slack.thread("D0ALICE", stream["ts"])[0]["text"] == "x" * 6_000 + "y" * 6_000


async def test_a_response_url_takes_five_valid_posts(slack: SlackStandIn) -> None:
    url = slack.new_response_url()
    async with aiohttp.ClientSession() as session:
        statuses = []
        bad = {"text": "x", "blocks": [{"type": "divider"}] * 51}
        async with session.post(url, json=bad) as response:
            statuses.append(response.status)
        for _ in range(5):
            async with session.post(url, json={"text": "the answer"}) as response:
                statuses.append(response.status)
    assert statuses == [400, 200, 200, 200, 200, 404]
    assert slack.refusals == [("response_url", "invalid_blocks"), ("response_url", "used_url")]


async def test_assistant_thread_methods_and_ephemeral_messages(slack: SlackStandIn) -> None:
    client = web_client(slack)
    await client.assistant_threads_setStatus(
        channel_id=CHANNEL, thread_ts=QUESTION_TS, status="is searching the docs..."
    )
    await client.assistant_threads_setStatus(channel_id=CHANNEL, thread_ts=QUESTION_TS, status="")
    await client.assistant_threads_setTitle(channel_id="D0ALICE", thread_ts=QUESTION_TS, title="S3")
    await client.assistant_threads_setSuggestedPrompts(
        channel_id="D0ALICE", prompts=[{"title": "Storage", "message": "Where is data kept?"}]
    )
    ephemeral = await client.chat_postEphemeral(channel=CHANNEL, user=USER, text="Only you")

    assert [c.params["status"] for c in slack.calls_to("assistant.threads.setStatus")] == [
        "is searching the docs...",
        "",
    ]
    assert slack.calls_to("assistant.threads.setTitle")[0].params["title"] == "S3"
    assert ephemeral["message_ts"]
    assert slack.thread(CHANNEL, ephemeral["message_ts"]) == []


async def test_socket_mode_client_receives_an_envelope_and_its_ack_is_recorded(
    slack: SlackStandIn,
) -> None:
    received: list[SocketModeRequest] = []
    hello: list[dict[str, Any]] = []

    async def on_message(client: Any, message: dict[str, Any], raw: str | None) -> None:
        if message.get("type") == "hello":
            hello.append(message)

    async def on_request(client: SocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        await client.send_socket_mode_response(SocketModeResponse(request.envelope_id))

    client = SocketModeClient(
        app_token="xapp-1-test", web_client=AsyncWebClient(base_url=slack.api_url)
    )
    client.message_listeners.append(on_message)
    client.socket_mode_request_listeners.append(on_request)
    try:
        await client.connect()
        await slack.wait_connected()
        body = app_mention("<@U0BOT> where?", channel=CHANNEL, user=USER, ts=QUESTION_TS)
        envelope_id = await slack.push("events_api", body)
        ack = await slack.wait_for_ack(envelope_id)
        retry_id = await slack.redeliver(envelope_id)
        await slack.wait_for_ack(retry_id)
    finally:
        await client.close()

    [open_call] = slack.calls_to("apps.connections.open")
    assert open_call.token == "xapp-1-test"
    assert hello[0]["num_connections"] == 1
    assert ack == {"envelope_id": envelope_id}
    first, retry = received
    assert (first.type, first.retry_attempt, first.retry_reason) == ("events_api", 0, "")
    assert first.payload["event"]["type"] == "app_mention"
    assert retry.envelope_id != first.envelope_id
    assert retry.payload["event_id"] == first.payload["event_id"]
    assert (retry.retry_attempt, retry.retry_reason) == (1, "timeout")
    assert slack.timeline[:5] == [
        "call:apps.connections.open",
        "connect",
        f"push:{envelope_id}",
        f"ack:{envelope_id}",
        f"push:{retry_id}",
    ]
    # The mention is now a message in the channel, as in Slack.
    assert slack.thread(CHANNEL, QUESTION_TS)[0]["type"] == "message"


async def test_disconnect_makes_the_client_reconnect_with_a_fresh_url(slack: SlackStandIn) -> None:
    client = SocketModeClient(
        app_token="xapp-1-test", web_client=AsyncWebClient(base_url=slack.api_url)
    )
    try:
        await client.connect()
        await slack.wait_connected()
        await slack.disconnect("refresh_requested")
        await slack.wait_connected(count=2)
    finally:
        await client.close()

    assert len(slack.calls_to("apps.connections.open")) == 2


async def test_bolt_app_over_socket_mode_acks_then_replies_in_thread(slack: SlackStandIn) -> None:
    app = AsyncApp(client=web_client(slack))
    seen: list[dict[str, Any]] = []

    @app.event("app_mention")
    async def answer(event: dict[str, Any], say: Any) -> None:
        seen.append(event)
        await say(text="Segments are kept in object storage.", thread_ts=event["ts"])

    @app.event("message")
    async def ignore(event: dict[str, Any]) -> None:
        seen.append(event)

    @app.action("helpful")
    async def vote(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        seen.append(body)
        await respond("Thanks for the vote", replace_original=False)

    @app.command("/helpbot")
    async def command(ack: Any, command: dict[str, str]) -> None:
        await ack(f"Searching for {command['text']}")

    handler = AsyncSocketModeHandler(app, app_token="xapp-1-test")
    try:
        await handler.connect_async()
        own = await slack.push("events_api", bot_message("hi", channel=CHANNEL, ts="1.000001"))
        await slack.wait_for_ack(own)
        mention = app_mention("<@U0BOT> where?", channel=CHANNEL, user=USER, ts=QUESTION_TS)
        envelope_id = await slack.push("events_api", mention)
        [reply] = await slack.wait_for("chat.postMessage")
        click = block_actions(
            "helpful",
            "yes",
            channel=CHANNEL,
            user=USER,
            message_ts=reply.params["thread_ts"],
            response_url=slack.new_response_url(),
        )
        clicked = await slack.push("interactive", click)
        await slack.wait_for_ack(clicked)
        [response] = await slack.wait_for("response_url")
        asked = await slack.push(
            "slash_commands", slash_command("/helpbot", "S3", channel=CHANNEL, user=USER)
        )
        command_ack = await slack.wait_for_ack(asked)
    finally:
        await handler.close_async()

    assert [e["type"] for e in seen] == ["app_mention", "block_actions"]
    assert reply.params == {
        "channel": CHANNEL,
        "thread_ts": QUESTION_TS,
        "text": "Segments are kept in object storage.",
        # bolt's per-request client adds the event's team_id to every call.
        "team_id": "T0TEAM",
    }
    assert reply.token == "xoxb-test"
    # bolt calls auth.test on the first event, then acks, then runs the listener.
    order = [slack.timeline.index(entry) for entry in (
        "call:auth.test", f"ack:{envelope_id}", "call:chat.postMessage"
    )]  # fmt: skip
    assert order == sorted(order)
    assert len(slack.calls_to("auth.test")) == 1
    assert response.params == {"text": "Thanks for the vote", "replace_original": False}
    assert command_ack == {"envelope_id": asked, "payload": {"text": "Searching for S3"}}


async def test_http_payload_helpers_carry_a_valid_signature() -> None:
    verifier = SignatureVerifier("shh")
    for body in (
        interaction_body(block_actions("a", "b", channel=CHANNEL, user=USER, message_ts="1.2")),
        slash_command_body(slash_command("/helpbot", "S3", channel=CHANNEL, user=USER)),
    ):
        headers = signed_headers(body, "shh", retry_num=1)
        assert verifier.is_valid_request(body, headers)
        assert headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert not verifier.is_valid_request(b"{}", signed_headers(b"{}", "other"))
    assert not verifier.is_valid_request(b"{}", signed_headers(b"{}", "shh", timestamp=1))


def test_event_builders_match_slack_shapes() -> None:
    dm = message_im("hello", channel="D0ALICE", user=USER, ts=QUESTION_TS)["event"]
    reply = thread_reply("more", channel=CHANNEL, user=USER, ts="2.0", thread_ts=QUESTION_TS)
    mention = app_mention("<@U0BOT> hi", channel=CHANNEL, user=USER, ts="3.0", event_id="Ev1")

    assert (dm["type"], dm["channel_type"], dm["channel"]) == ("message", "im", "D0ALICE")
    assert "thread_ts" not in dm
    assert reply["event"]["thread_ts"] == QUESTION_TS
    assert mention["type"] == "event_callback" and mention["event_id"] == "Ev1"
    assert mention["authorizations"][0]["user_id"] == "U0BOT"
    [section] = mention["event"]["blocks"][0]["elements"]
    assert section["elements"] == [
        {"type": "user", "user_id": "U0BOT"},
        {"type": "text", "text": " hi"},
    ]
