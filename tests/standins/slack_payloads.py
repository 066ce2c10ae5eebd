"""Slack payloads for tests, shaped like the ones Slack really sends.

Events API bodies (`event_callback` around an `app_mention` or `message` event), interaction
payloads (`block_actions`), slash command payloads, and the v0 request signature Slack puts on
HTTP deliveries. Over Socket Mode the same bodies travel as an envelope's `payload`:

    body = app_mention("<@U0BOT> where is data kept?", channel="C0DOCS", user="U0ALICE",
                       ts="1700000000.000100")
    await slack.push("events_api", body)
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

# The stand-in workspace's identity; `SlackStandIn` answers auth.test with these.
TEAM_ID = "T0TEAM"
TEAM_DOMAIN = "stand-in"
APP_ID = "A0APP"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
# The deprecated verification token Slack still puts in every body.
VERIFICATION_TOKEN = "stand-in-verification-token"

_event_numbers = itertools.count(1)
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")


def event_callback(
    event: Mapping[str, Any], *, event_id: str | None = None, team_id: str = TEAM_ID
) -> dict[str, Any]:
    """The Events API body around `event`: what Slack POSTs, and what a Socket Mode
    `events_api` envelope carries as its payload. `event_id` is what a retry repeats."""
    ts = str(event.get("event_ts") or event.get("ts") or f"{time.time():.6f}")
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": APP_ID,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(float(ts)),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex}",
    }


def new_event_id() -> str:
    """A fresh event id, unique within the test run ("Ev" and ten characters, like Slack's)."""
    return f"Ev{next(_event_numbers):010d}"


def app_mention(
    text: str,
    *,
    channel: str,
    user: str,
    ts: str,
    thread_ts: str | None = None,
    event_id: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """An `app_mention` event callback: someone wrote `<@U0BOT> ...` in a channel (in a thread
    when `thread_ts` is given)."""
    event = {"type": "app_mention", **_user_message(text, user=user, ts=ts, team_id=team_id)}
    event["channel"] = channel
    event["event_ts"] = ts
    if thread_ts is not None and thread_ts != ts:
        event["thread_ts"] = thread_ts
    return event_callback(event, event_id=event_id, team_id=team_id)


def message_im(
    text: str,
    *,
    channel: str,
    user: str,
    ts: str,
    thread_ts: str | None = None,
    event_id: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A `message.im` event callback: a direct message to the bot (channel ids start with D)."""
    return _message_event(
        text,
        channel,
        "im",
        user=user,
        ts=ts,
        thread_ts=thread_ts,
        event_id=event_id,
        team_id=team_id,
    )


def thread_reply(
    text: str,
    *,
    channel: str,
    user: str,
    ts: str,
    thread_ts: str,
    parent_user_id: str | None = None,
    event_id: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A `message.channels` event callback for a reply in a thread, without a mention."""
    body = _message_event(
        text,
        channel,
        "channel",
        user=user,
        ts=ts,
        thread_ts=thread_ts,
        event_id=event_id,
        team_id=team_id,
    )
    if parent_user_id is not None:
        body["event"]["parent_user_id"] = parent_user_id
    return body


def bot_message(
    text: str,
    *,
    channel: str,
    ts: str,
    bot_id: str = BOT_ID,
    user: str | None = None,
    thread_ts: str | None = None,
    channel_type: str = "channel",
    event_id: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A `message` event callback with subtype `bot_message`, posted by `bot_id` (this app's
    own bot unless told otherwise): the kind of event a bot must not answer."""
    event: dict[str, Any] = {
        "type": "message",
        "subtype": "bot_message",
        "text": text,
        "ts": ts,
        "bot_id": bot_id,
        "username": "helpbot" if bot_id == BOT_ID else "another bot",
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
    }
    if user is not None:
        event["user"] = user
    if thread_ts is not None and thread_ts != ts:
        event["thread_ts"] = thread_ts
    return event_callback(event, event_id=event_id, team_id=team_id)


def url_verification(challenge: str) -> dict[str, Any]:
    """The body Slack POSTs once to check an Events API request URL; the app echoes
    `challenge`."""
    return {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}


def block_actions(
    action_id: str,
    value: str,
    *,
    channel: str,
    user: str,
    message_ts: str,
    thread_ts: str | None = None,
    block_id: str = "actions",
    message_text: str = "",
    response_url: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A `block_actions` interaction payload: `user` clicked the button `action_id` (with
    `value`) on the bot's message `message_ts` (in the thread `thread_ts`, if any)."""
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    message: dict[str, Any] = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "text": message_text,
        "ts": message_ts,
        "team": team_id,
    }
    if thread_ts is not None:
        container["thread_ts"] = thread_ts
        message["thread_ts"] = thread_ts
    action_ts = f"{time.time():.6f}"
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": _trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel.lower()},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url or _response_url("actions", team_id),
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": value, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": action_ts,
            }
        ],
    }


def slash_command(
    command: str,
    text: str,
    *,
    channel: str,
    user: str,
    response_url: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, str]:
    """A slash command payload (`/helpbot where is data kept?`). Every value is a string, as
    in the form Slack POSTs."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel,
        "channel_name": channel.lower(),
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url or _response_url("commands", team_id),
        "trigger_id": _trigger_id(),
    }


def interaction_body(payload: Mapping[str, Any]) -> bytes:
    """An interaction payload as Slack POSTs it over HTTP: one form field, `payload`, holding
    the JSON."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def slash_command_body(payload: Mapping[str, str]) -> bytes:
    """A slash command as Slack POSTs it over HTTP: plain form fields."""
    return urlencode(payload).encode()


def signed_headers(
    body: bytes,
    secret: str,
    timestamp: int | None = None,
    *,
    retry_num: int | None = None,
    retry_reason: str | None = None,
) -> dict[str, str]:
    """The headers Slack signs an HTTP delivery with: v0 HMAC-SHA256 of
    `v0:{timestamp}:{body}` under the signing secret. Bolt rejects timestamps more than five
    minutes old. A redelivery adds X-Slack-Retry-Num and X-Slack-Retry-Reason."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
    return headers


def _message_event(
    text: str,
    channel: str,
    channel_type: str,
    *,
    user: str,
    ts: str,
    thread_ts: str | None,
    event_id: str | None,
    team_id: str,
) -> dict[str, Any]:
    event = {"type": "message", **_user_message(text, user=user, ts=ts, team_id=team_id)}
    if thread_ts is not None and thread_ts != ts:
        event["thread_ts"] = thread_ts
    event.update(channel=channel, event_ts=ts, channel_type=channel_type)
    return event_callback(event, event_id=event_id, team_id=team_id)


def _user_message(text: str, *, user: str, ts: str, team_id: str) -> dict[str, Any]:
    """What every message a person typed carries: client_msg_id, and the text again as
    rich_text blocks (mentions as `user` elements)."""
    return {
        "user": user,
        "text": text,
        "ts": ts,
        "client_msg_id": str(uuid.uuid4()),
        "team": team_id,
        "blocks": [_rich_text(text)],
    }


def _rich_text(text: str) -> dict[str, Any]:
    elements: list[dict[str, str]] = []
    for index, piece in enumerate(_MENTION.split(text)):
        if index % 2:
            elements.append({"type": "user", "user_id": piece})
        elif piece:
            elements.append({"type": "text", "text": piece})
    section = {"type": "rich_text_section", "elements": elements}
    return {"type": "rich_text", "block_id": uuid.uuid4().hex[:5], "elements": [section]}


def _trigger_id() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"


def _response_url(kind: str, team_id: str) -> str:
    """A response_url shaped like Slack's; nothing answers it. For one that records what is
    posted to it, use `SlackStandIn.new_response_url()`."""
    return f"https://hooks.slack.com/{kind}/{team_id}/{next(_event_numbers)}/{uuid.uuid4().hex}"
