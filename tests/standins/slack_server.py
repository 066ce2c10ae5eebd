"""A local stand-in for the Slack platform, for tests.

It speaks enough of Slack's Web API (query, form or JSON bodies; Bearer tokens; `ok`/`error`
bodies; HTTP 429 with Retry-After) and of Socket Mode (apps.connections.open, `hello`,
envelopes, acks, `disconnect`) for the unmodified `slack_sdk` and `slack_bolt` clients. It
keeps the messages it has seen, so conversations.replies answers with what people said and
what the bot posted or streamed, and it records every call, envelope and ack, in order:

    async with SlackStandIn() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        envelope_id = await slack.push("events_api", app_mention(...))
        await slack.wait_for_ack(envelope_id)
        [reply] = await slack.wait_for("chat.postMessage")
        assert slack.timeline.index(f"ack:{envelope_id}") < slack.timeline.index(
            "call:chat.postMessage")
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import json
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any

from aiohttp import WSMsgType, web

from tests.standins.local_server import serve
from tests.standins.slack_payloads import APP_ID, BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID

API_PATH = "/api/"
SOCKET_PATH = "/socket-mode"
ENVELOPE_TYPES = ("events_api", "interactive", "slash_commands")
STREAM_METHODS = ("chat.startStream", "chat.appendStream", "chat.stopStream")
# How long shutdown waits for a handler still running before cancelling it, and for a
# client to answer the stand-in's websocket close.
_SHUTDOWN_GRACE_S = 0.1
_WS_CLOSE_TIMEOUT_S = 1.0
# Scopes reported in X-OAuth-Scopes (bolt reads them from auth.test's headers).
_BOT_SCOPES = (
    "app_mentions:read,assistant:write,channels:history,chat:write,commands,groups:history,"
    "im:history,reactions:write"
)
# Slack's documented limits: text over 40,000 characters (msg_too_long), more than 50 blocks
# in a message, a section's text over 3,000 characters, more than 10 elements in a context
# block (invalid_blocks). The streaming methods take at most 12,000 characters of
# markdown_text a call (docs.slack.dev, chat.appendStream); a streamed message holds about
# as much in all, past which appends fail with msg_too_long (undocumented, seen in real
# workspaces: CopilotKit/CopilotKit#6063).
_MAX_TEXT_CHARS = 40_000
_MAX_BLOCKS = 50
_MAX_SECTION_TEXT_CHARS = 3_000
_MAX_CONTEXT_ELEMENTS = 10
_MAX_STREAM_CALL_CHARS = 12_000
_MAX_STREAMED_MESSAGE_CHARS = 12_000
# A response_url takes up to 5 posts (api.slack.com, "Handling user interaction").
_RESPONSE_URL_USES = 5
_HTTP_ERRORS = {429: "ratelimited", 500: "fatal_error", 503: "service_unavailable"}
# Message timestamps: "1700000000.000100" and on, 100 microseconds apart.
_FIRST_TS_MICROS = 1_700_000_000_000_100
_TS_STEP_MICROS = 100
# Fields of an event that a stored message (as conversations.replies returns it) lacks.
_EVENT_ONLY_FIELDS = ("channel", "event_ts", "channel_type", "parent_user_id")


@dataclass(frozen=True)
class RecordedCall:
    """One Web API call as the stand-in received it: query, form and JSON fields merged into
    `params`; header names lower-cased."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    http_verb: str = "POST"
    # When it arrived (time.monotonic), for latency measurements such as bench/load.py.
    at: float = field(default_factory=time.monotonic)

    @property
    def token(self) -> str | None:
        """The token sent, from the Authorization header or a `token` field."""
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token:
            return token
        value = self.params.get("token")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class _Failure:
    status: int
    error: str | None
    retry_after: int


class _SlackError(Exception):
    """A method's `{"ok": false, "error": ...}` answer."""

    def __init__(self, error: str, *messages: str) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.error}
        if self.messages:
            body["response_metadata"] = {"messages": list(self.messages)}
        return body


class SlackStandIn:
    """Async context manager: `async with SlackStandIn() as slack: ... slack.api_url ...`"""

    api_url: str
    calls: list[RecordedCall]
    timeline: list[str]
    envelopes: list[dict[str, Any]]
    acks: dict[str, dict[str, Any]]
    bot_user_id: str = BOT_USER_ID
    bot_id: str = BOT_ID
    team_id: str = TEAM_ID
    app_id: str = APP_ID

    def __init__(self, *, streaming_available: bool = True) -> None:
        self.streaming_available = streaming_available
        # users.info says these are guests (is_restricted); conversations.info says these
        # channels are shared with another organisation (Slack Connect, is_ext_shared), and
        # these are group DMs (is_mpim).
        self.guests: set[str] = set()
        self.external_channels: set[str] = set()
        self.group_dms: set[str] = set()
        # Calls the Web API refused on their merits (method, error), as Slack would: a bad
        # token, invalid blocks, a message too long. Injected failures are not counted.
        self.refusals: list[tuple[str, str]] = []
        self.calls = []
        self.timeline = []
        self.envelopes = []
        self.acks = {}
        self.connections = 0
        # None: that call is answered as usual (a failure queued `after` others).
        self._failures: defaultdict[str, deque[_Failure | None]] = defaultdict(deque)
        # channel -> ts -> message, as conversations.replies returns it (before thread fields).
        self._messages: defaultdict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self._streaming: set[tuple[str, str]] = set()
        self._clock = _FIRST_TS_MICROS - _TS_STEP_MICROS
        self._tickets: set[str] = set()
        self._response_urls = itertools.count(1)
        self._response_url_posts: defaultdict[str, int] = defaultdict(int)
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._base = ""
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._connections_open,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.startStream": self._start_stream,
            "chat.appendStream": self._append_stream,
            "chat.stopStream": self._stop_stream,
            "conversations.replies": self._replies,
            "conversations.info": self._conversations_info,
            "users.info": self._users_info,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "assistant.threads.setStatus": self._set_status,
            "assistant.threads.setSuggestedPrompts": self._set_suggested_prompts,
            "assistant.threads.setTitle": self._set_title,
        }

    # -- scripting -------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[RecordedCall]:
        """The recorded calls to `method` ("chat.postMessage"), in order."""
        return [call for call in self.calls if call.method == method]

    def fail_with(
        self,
        method: str,
        *,
        status: int = 429,
        error: str | None = None,
        times: int = 1,
        retry_after: int = 1,
        after: int = 0,
    ) -> None:
        """The next `times` calls of `method`, once `after` more have been answered, fail: HTTP
        `status` (429 says "ratelimited" and sends Retry-After, whole seconds as slack_sdk
        expects), or, given `error`, HTTP 200 `{"ok": false, "error": error}`, as Slack
        reports most failures."""
        queued = self._failures[method]
        queued.extend([None] * after)
        queued.extend([_Failure(status, error, retry_after)] * times)

    def seed_thread(
        self, channel: str, thread_ts: str, messages: Sequence[Mapping[str, Any]]
    ) -> None:
        """Put a thread in the store: the first message is the parent (its ts defaults to
        `thread_ts`), the rest replies (ts generated in order unless given). A message is a
        dict like {"user": "U1", "text": "..."}, an event, or an event callback body."""
        for index, given in enumerate(messages):
            message = _as_stored_message(given)
            if index == 0:
                message.setdefault("ts", thread_ts)
            else:
                message.setdefault("ts", self._next_ts())
                message["thread_ts"] = thread_ts
            message.setdefault("type", "message")
            message.setdefault("team", self.team_id)
            self._store(channel, message)

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The thread holding message `ts` as conversations.replies returns it (parent first);
        empty if there is no such message."""
        return self._thread(channel, ts) or []

    def new_response_url(self) -> str:
        """A response_url (for `block_actions(..., response_url=...)`) whose POSTs are recorded
        as calls to the method "response_url"."""
        return f"{self._base}/response_url/{next(self._response_urls)}"

    async def wait_for(
        self, method: str, count: int = 1, timeout: float = 5.0
    ) -> list[RecordedCall]:
        """Wait until `method` has been called `count` times; return all its calls so far."""
        await self.wait_until(
            lambda: len(self.calls_to(method)) >= count, timeout, f"{count} call(s) to {method}"
        )
        return self.calls_to(method)

    # -- Socket Mode -----------------------------------------------------------------------

    async def wait_connected(self, timeout: float = 5.0, *, count: int = 1) -> None:
        """Wait until `count` Socket Mode connections have been opened in all, one still open."""
        await self.wait_until(
            lambda: self.connections >= count and bool(self._sockets),
            timeout,
            f"{count} Socket Mode connection(s)",
        )

    async def push(
        self,
        payload_type: str,
        payload: Mapping[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str | None = None,
        accepts_response_payload: bool | None = None,
    ) -> str:
        """Send `payload` in a Socket Mode envelope of `payload_type` ("events_api",
        "interactive" or "slash_commands") to the newest connection, as Slack sends each
        envelope to one connection; return its envelope_id. A message event is also stored,
        as the message it reports now exists in Slack."""
        if payload_type not in ENVELOPE_TYPES:
            raise ValueError(f"payload_type must be one of {ENVELOPE_TYPES}, not {payload_type!r}")
        await self.wait_connected()
        envelope: dict[str, Any] = {
            "envelope_id": str(uuid.uuid4()),
            "payload": dict(payload),
            "type": payload_type,
            "accepts_response_payload": (
                payload_type == "slash_commands"
                if accepts_response_payload is None
                else accepts_response_payload
            ),
        }
        # Only Events API envelopes carry retry fields; an unacked one is sent again (new
        # envelope_id, same event_id) with retry_attempt 1, 2, 3 and retry_reason "timeout".
        if payload_type == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason or ("timeout" if retry_attempt else "")
            self._remember_event(payload)
        self.envelopes.append(envelope)
        self.timeline.append(f"push:{envelope['envelope_id']}")
        await self._sockets[-1].send_json(envelope)
        return str(envelope["envelope_id"])

    async def redeliver(self, envelope_id: str, *, retry_reason: str = "timeout") -> str:
        """Send envelope `envelope_id`'s payload again as Slack retries an event: a new
        envelope_id, the same payload (and event_id), retry_attempt one higher."""
        [sent] = [e for e in self.envelopes if e["envelope_id"] == envelope_id]
        return await self.push(
            sent["type"],
            sent["payload"],
            retry_attempt=sent.get("retry_attempt", 0) + 1,
            retry_reason=retry_reason,
        )

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """Wait for the client's ack of `envelope_id`; return it ({"envelope_id", "payload"?})."""
        await self.wait_until(lambda: envelope_id in self.acks, timeout, f"ack of {envelope_id}")
        return self.acks[envelope_id]

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask every connected client to reconnect, as Slack does before it recycles a
        connection ("warning", "refresh_requested") or when the app is disabled
        ("link_disabled")."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-0"}}
        self.timeline.append(f"disconnect:{reason}")
        for socket in list(self._sockets):
            await socket.send_json(message)

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> SlackStandIn:
        app = web.Application()
        app.router.add_route("*", API_PATH + "{method}", self._api)
        app.router.add_get(SOCKET_PATH, self._socket)
        app.router.add_post("/response_url/{number}", self._response_url)
        self._runner, port = await serve(app, _SHUTDOWN_GRACE_S)
        self._base = f"http://127.0.0.1:{port}"
        self.api_url = f"{self._base}{API_PATH}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for socket in list(self._sockets):
            await socket.close(message=b"stand-in stopped")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- transport -------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        headers = {name.lower(): value for name, value in request.headers.items()}
        call = RecordedCall(method, await _read_params(request), headers, request.method)
        # Recording and answering run without an await between them, so whoever wakes on
        # the call also sees its effect on the store.
        self.calls.append(call)
        self.timeline.append(f"call:{method}")
        response = self._answer(call)
        await self._notify()
        return response

    def _answer(self, call: RecordedCall) -> web.Response:
        failures = self._failures.get(call.method)
        injected = failures.popleft() if failures else None
        if injected is not None:
            if injected.error is not None:
                return web.json_response({"ok": False, "error": injected.error})
            headers = {"Retry-After": str(injected.retry_after)} if injected.status == 429 else {}
            error = _HTTP_ERRORS.get(injected.status, "fatal_error")
            return web.json_response(
                {"ok": False, "error": error}, status=injected.status, headers=headers
            )
        handler = self._methods.get(call.method)
        if handler is None:
            return web.json_response(
                {"ok": False, "error": "unknown_method", "req_method": call.method}
            )
        try:
            _check_token(call)
            if call.method in STREAM_METHODS and not self.streaming_available:
                # What a workspace without AI streaming answers (slack_sdk raises SlackApiError).
                raise _SlackError("unknown_method")
            body = handler(call.params)
        except _SlackError as failure:
            self.refusals.append((call.method, failure.error))
            return web.json_response(failure.body())
        return web.json_response(body, headers={"X-OAuth-Scopes": _BOT_SCOPES})

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        if request.query.get("ticket") not in self._tickets:
            raise web.HTTPUnauthorized(text="unknown ticket: call apps.connections.open")
        socket = web.WebSocketResponse(timeout=_WS_CLOSE_TIMEOUT_S)
        await socket.prepare(request)
        self._sockets.append(socket)
        self.connections += 1
        self.timeline.append("connect")
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {
                    "host": "applink-0",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
        )
        await self._notify()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    await self._receive(message.data)
        finally:
            self._sockets.remove(socket)
            self.timeline.append("close")
            await self._notify()
        return socket

    async def _receive(self, data: str) -> None:
        """A message from the client: in Socket Mode, only acks ({"envelope_id", "payload"?})."""
        message = json.loads(data)
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        if envelope_id:
            self.acks[envelope_id] = message
            self.timeline.append(f"ack:{envelope_id}")
            await self._notify()

    async def _response_url(self, request: web.Request) -> web.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        body = await request.json() if request.can_read_body else {}
        self.calls.append(RecordedCall("response_url", body, headers))
        self.timeline.append("call:response_url")
        number = request.match_info["number"]
        self._response_url_posts[number] += 1
        try:
            if self._response_url_posts[number] > _RESPONSE_URL_USES:
                raise _SlackError("used_url")
            _content(body)
        except _SlackError as failure:
            self.refusals.append(("response_url", failure.error))
            await self._notify()
            # Slack answers a bad response_url post with an HTTP error and a plain-text reason.
            return web.Response(
                status=404 if failure.error == "used_url" else 400, text=failure.error
            )
        await self._notify()
        return web.Response(text="ok")

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait until `ready()` holds, re-checked after every call the stand-in receives."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(ready)
        except TimeoutError:
            seen = ", ".join(self.timeline[-20:]) or "nothing"
            raise TimeoutError(f"waited {timeout} s for {what}; saw: {seen}") from None

    # -- Web API methods -------------------------------------------------------------------

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Stand-in",
            "user": "helpbot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        url = f"{self._base.replace('http', 'ws', 1)}{SOCKET_PATH}?ticket={ticket}"
        return {"ok": True, "url": f"{url}&app_id={self.app_id}"}

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _channel(params)
        text, blocks = _content(params)
        message = self._bot_message(text, blocks, params.get("thread_ts"))
        self._store(channel, message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _channel(params)
        message = self._own_message(channel, params)
        text, blocks = _content(params)
        message["text"] = text
        if blocks is not None:
            message["blocks"] = blocks
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "text": text,
            "message": copy.deepcopy(message),
        }

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        _channel(params)
        _require(params, "user")
        _content(params)
        # Only `user` sees it, and only until they reload: it joins no thread.
        return {"ok": True, "message_ts": self._next_ts()}

    def _start_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _channel(params)
        _require(params, "thread_ts")
        # Streaming outside a DM must name who watches the stream.
        if not channel.startswith("D"):
            for name in ("recipient_user_id", "recipient_team_id"):
                if not params.get(name):
                    raise _SlackError(f"missing_{name}")
        message = self._bot_message(_stream_text(params, ""), None, params["thread_ts"])
        self._store(channel, message)
        self._streaming.add((channel, message["ts"]))
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    def _append_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, message = self._streamed_message(params)
        message["text"] += _stream_text(params, message["text"])
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    def _stop_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, message = self._streamed_message(params)
        message["text"] += _stream_text(params, message["text"])
        blocks = _json_field(params, "blocks")
        if blocks:
            _check_blocks(blocks)
            message["blocks"] = blocks
        self._streaming.discard((channel, message["ts"]))
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "message": copy.deepcopy(message),
        }

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = _channel(params)
        _require(params, "ts")
        messages = self._thread(channel, str(params["ts"]))
        if messages is None:
            raise _SlackError("thread_not_found")
        start = 0
        if params.get("cursor"):
            next_ts = base64.b64decode(params["cursor"]).decode().removeprefix("next_ts:")
            start = next(i for i, m in enumerate(messages) if m["ts"] == next_ts)
        limit = int(params.get("limit") or 1000)
        page = messages[start : start + limit]
        rest = messages[start + limit :]
        cursor = base64.b64encode(f"next_ts:{rest[0]['ts']}".encode()).decode() if rest else ""
        return {
            "ok": True,
            "messages": page,
            "has_more": bool(rest),
            "response_metadata": {"next_cursor": cursor},
        }

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel", "")
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "is_channel": channel not in self.group_dms,
                "is_im": channel.startswith("D"),
                "is_mpim": channel in self.group_dms,
                "is_shared": channel in self.external_channels,
                "is_ext_shared": channel in self.external_channels,
                "is_pending_ext_shared": False,
                "is_org_shared": False,
            },
        }

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = params.get("user", "")
        guest = user in self.guests
        return {
            "ok": True,
            "user": {
                "id": user,
                "team_id": self.team_id,
                "name": user.lower(),
                "is_bot": False,
                "is_restricted": guest,
                "is_ultra_restricted": False,
            },
        }

    def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        message, name = self._reacted_message(params)
        reactions = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["name"] == name:
                if self.bot_user_id in reaction["users"]:
                    raise _SlackError("already_reacted")
                reaction["users"].append(self.bot_user_id)
                reaction["count"] += 1
                return {"ok": True}
        reactions.append({"name": name, "users": [self.bot_user_id], "count": 1})
        return {"ok": True}

    def _reactions_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        message, name = self._reacted_message(params)
        reactions = message.get("reactions", [])
        for reaction in reactions:
            if reaction["name"] == name and self.bot_user_id in reaction["users"]:
                reaction["users"].remove(self.bot_user_id)
                reaction["count"] -= 1
                if not reaction["count"]:
                    reactions.remove(reaction)
                if not reactions:
                    del message["reactions"]
                return {"ok": True}
        raise _SlackError("no_reaction")

    def _set_status(self, params: dict[str, Any]) -> dict[str, Any]:
        # An empty status clears it, so only its presence is required.
        _require(params, "channel_id", "thread_ts")
        if "status" not in params:
            raise _SlackError("invalid_arguments", "[ERROR] missing required field: status")
        return {"ok": True}

    def _set_suggested_prompts(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "channel_id", "prompts")
        return {"ok": True}

    def _set_title(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "channel_id", "thread_ts", "title")
        return {"ok": True}

    # -- the message store -----------------------------------------------------------------

    def _next_ts(self) -> str:
        self._clock += _TS_STEP_MICROS
        return _format_ts(self._clock)

    def _store(self, channel: str, message: dict[str, Any]) -> None:
        """Keep `message`; later generated timestamps sort after it."""
        self._clock = max(self._clock, _ts_micros(message["ts"]))
        self._messages[channel][message["ts"]] = message

    def _remember_event(self, body: Mapping[str, Any]) -> None:
        event = body.get("event")
        if not isinstance(event, Mapping) or event.get("type") not in ("message", "app_mention"):
            return
        if "ts" not in event or "channel" not in event or event.get("subtype") is not None:
            return
        if event["ts"] not in self._messages[event["channel"]]:
            message = _as_stored_message(event)
            message["type"] = "message"
            self._store(str(event["channel"]), message)

    def _bot_message(
        self, text: str, blocks: list[Any] | None, thread_ts: str | None
    ) -> dict[str, Any]:
        """A message as the bot's token posts it (a bot user's message: no subtype)."""
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": text,
            "ts": self._next_ts(),
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": "helpbot",
                "team_id": self.team_id,
                "deleted": False,
            },
        }
        if blocks:
            message["blocks"] = blocks
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
        return message

    def _lookup(self, channel: str, ts: Any) -> dict[str, Any]:
        message = self._messages.get(channel, {}).get(str(ts))
        if message is None:
            raise _SlackError("message_not_found")
        return message

    def _own_message(self, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "ts")
        message = self._lookup(channel, params["ts"])
        if message.get("bot_id") != self.bot_id:
            raise _SlackError("cant_update_message")
        return message

    def _streamed_message(self, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        channel = _channel(params)
        _require(params, "ts")
        message = self._lookup(channel, params["ts"])
        if (channel, message["ts"]) not in self._streaming:
            raise _SlackError("message_not_in_streaming_state")
        return channel, message

    def _reacted_message(self, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
        channel = _channel(params)
        _require(params, "name", "timestamp")
        return self._lookup(channel, params["timestamp"]), str(params["name"])

    def _thread(self, channel: str, ts: str) -> list[dict[str, Any]] | None:
        """The thread holding `ts` (parent first, then replies by ts), with the fields Slack
        adds: reply_count and friends on the parent, parent_user_id on replies."""
        messages = self._messages.get(channel, {})
        if ts in messages:
            root = messages[ts].get("thread_ts", ts)
        elif any(m.get("thread_ts") == ts for m in messages.values()):
            root = ts
        else:
            return None
        thread = sorted(
            (
                copy.deepcopy(m)
                for m in messages.values()
                if m["ts"] == root or m.get("thread_ts") == root
            ),
            key=lambda m: Decimal(m["ts"]),
        )
        parent = thread[0] if thread[0]["ts"] == root else None
        replies = thread[1:] if parent is not None else thread
        if parent is not None and replies:
            users = list(dict.fromkeys(r.get("user", "") for r in replies if r.get("user")))
            parent.update(
                thread_ts=root,
                reply_count=len(replies),
                reply_users_count=len(users),
                latest_reply=replies[-1]["ts"],
                reply_users=users,
            )
        if parent is not None:
            parent_user = parent.get("user") or parent.get("bot_id")
            for reply in replies:
                reply["parent_user_id"] = parent_user
        return thread


def _check_token(call: RecordedCall) -> None:
    """Socket Mode needs the app-level token (xapp-); every other method a bot or user token."""
    token = call.token
    if not token:
        raise _SlackError("not_authed")
    wants_app_token = call.method == "apps.connections.open"
    if token.startswith("xapp-") != wants_app_token:
        raise _SlackError("not_allowed_token_type")
    if not token.startswith(("xapp-", "xoxb-", "xoxp-")):
        raise _SlackError("invalid_auth")


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query, form and JSON fields merged, as Slack accepts a method's arguments in any."""
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()
            params.update({name: value for name, value in form.items() if isinstance(value, str)})
    return params


def _require(params: Mapping[str, Any], *names: str) -> None:
    missing = [name for name in names if params.get(name) in (None, "")]
    if missing:
        messages = [f"[ERROR] missing required field: {name}" for name in missing]
        raise _SlackError("invalid_arguments", *messages)


def _channel(params: Mapping[str, Any]) -> str:
    channel = params.get("channel")
    if not channel:
        raise _SlackError("channel_not_found")
    return str(channel)


def _json_field(params: Mapping[str, Any], name: str) -> Any:
    """A structured argument (blocks, chunks), which a form body carries as a JSON string."""
    value = params.get(name)
    return json.loads(value) if isinstance(value, str) and value else value


def _content(params: Mapping[str, Any]) -> tuple[str, list[Any] | None]:
    """A message's text and blocks, checked against Slack's limits."""
    text = str(params.get("text") or params.get("markdown_text") or "")
    blocks = _json_field(params, "blocks")
    if not text and not blocks and not params.get("attachments"):
        raise _SlackError("no_text")
    if len(text) > _MAX_TEXT_CHARS:
        raise _SlackError("msg_too_long")
    if blocks:
        _check_blocks(blocks)
    return text, blocks


def _check_blocks(blocks: list[Any]) -> None:
    if len(blocks) > _MAX_BLOCKS:
        raise _SlackError(
            "invalid_blocks",
            f"[ERROR] no more than {_MAX_BLOCKS} items allowed [json-pointer:/blocks]",
        )
    for index, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        text = block.get("text")
        if isinstance(text, dict) and len(text.get("text", "")) > _MAX_SECTION_TEXT_CHARS:
            raise _SlackError(
                "invalid_blocks",
                f"[ERROR] must be less than {_MAX_SECTION_TEXT_CHARS + 1} characters "
                f"[json-pointer:/blocks/{index}/text/text]",
            )
        elements = block.get("elements")
        if block.get("type") == "context" and len(elements or []) > _MAX_CONTEXT_ELEMENTS:
            raise _SlackError(
                "invalid_blocks",
                f"[ERROR] no more than {_MAX_CONTEXT_ELEMENTS} items allowed "
                f"[json-pointer:/blocks/{index}/elements]",
            )


def _stream_text(params: Mapping[str, Any], so_far: str) -> str:
    """The markdown a stream call adds to a message holding `so_far`: `markdown_text` and
    any markdown_text chunks (the slack_sdk helper sends its buffer as chunks), within the
    streaming limits."""
    text = str(params.get("markdown_text") or "")
    for chunk in _json_field(params, "chunks") or []:
        if isinstance(chunk, dict) and chunk.get("type") == "markdown_text":
            text += str(chunk.get("text", ""))
    if len(text) > _MAX_STREAM_CALL_CHARS:
        raise _SlackError(
            "msg_too_long",
            f"[ERROR] markdown_text must be at most {_MAX_STREAM_CALL_CHARS} characters",
        )
    if len(so_far) + len(text) > _MAX_STREAMED_MESSAGE_CHARS:
        raise _SlackError("msg_too_long")
    return text


def _as_stored_message(given: Mapping[str, Any]) -> dict[str, Any]:
    """A message, event or event callback body as conversations.replies shows the message."""
    event = given.get("event") if isinstance(given.get("event"), Mapping) else given
    assert isinstance(event, Mapping)
    message = {k: copy.deepcopy(v) for k, v in event.items() if k not in _EVENT_ONLY_FIELDS}
    if message.get("type") == "app_mention":
        message["type"] = "message"
    return message


def _ts_micros(ts: str) -> int:
    seconds, _, fraction = ts.partition(".")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


def _format_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
