"""A local stand-in for the Discord platform, for tests.

It speaks enough of Discord's REST API (v10: bot token auth, JSON and multipart bodies, the
error JSON with its codes and `errors` tree, HTTP 429 with Retry-After) and of the gateway over
a plain-text WebSocket (HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeats, RESUME, dispatches) for
the unmodified `discord.py` client. It plays the interaction lifecycle (the 3 s window for the
first response, a deferred reply that the first follow-up fills in, the 15 minute token), keeps
the messages each channel shows (edits applied), checks Discord's message limits, and records
every REST call and gateway dispatch, in order:

    async with DiscordStandIn() as discord_api:
        with discord_api.patch_discord():
            task = asyncio.create_task(client.start(BOT_TOKEN))
            await discord_api.wait_ready()
            await tree.sync()
            await discord_api.slash_command("ask", {"question": "Where is data kept?"})
            [answer] = await discord_api.wait_for("followup.create")
        timeline = discord_api.timeline
        assert timeline.index("rest:interaction.callback") < timeline.index("rest:followup.create")

Routes have names ("messages.create", "followup.create", ...; see `ROUTES`), used by
`calls_to`, `wait_for`, `fail_with` and the timeline; "POST /channels/1/messages" (a method and
a path prefix) works too.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import re
import time
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import discord
import discord.gateway
import discord.http
import discord.webhook.async_
import yarl
from aiohttp import BodyPartReader, WSCloseCode, WSMsgType, web

from tests.standins.discord_payloads import (
    APPLICATION_COMMAND,
    APPLICATION_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    CHANNEL_ID,
    CHAT_INPUT_COMMAND,
    DEFAULT_MESSAGE,
    DIRECT_MESSAGES,
    DM_CHANNEL_ID,
    EPHEMERAL,
    GUILD_ID,
    GUILD_MEMBERS,
    GUILD_MESSAGES,
    GUILDS,
    HAS_THREAD,
    LOADING,
    MESSAGE_COMPONENT,
    MESSAGE_CONTENT,
    OTHER_USER_ID,
    OWNER_ID,
    PRIVILEGED_INTENTS,
    REPLY,
    USER_ID,
    bot_member,
    bot_user,
    button_click,
    dm_channel,
    guild_create,
    member,
    mentioned,
    message_create,
    new_snowflake,
    ready,
    slash_command,
    snowflake_time,
    text_channel,
    thread_channel,
    thread_create,
    user,
)
from tests.standins.local_server import serve

API_PREFIX = "/api/v10"
GATEWAY_PATH = "/gateway"
# How long shutdown waits for a handler still running before cancelling it, and for a
# client to answer the stand-in's websocket close.
_SHUTDOWN_GRACE_S = 0.1
_WS_CLOSE_TIMEOUT_S = 1.0
# Discord's heartbeat interval; a client heartbeats once at HELLO, then every interval.
_HEARTBEAT_INTERVAL_MS = 41_250
# Gateway opcodes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
_DISPATCH, _HEARTBEAT, _IDENTIFY, _PRESENCE, _RESUME, _RECONNECT = 0, 1, 2, 3, 6, 7
_REQUEST_MEMBERS, _INVALID_SESSION, _HELLO, _HEARTBEAT_ACK = 8, 9, 10, 11
# Interaction callback types.
_DEFERRED_MESSAGE, _DEFERRED_UPDATE, _UPDATE_MESSAGE, _CHANNEL_MESSAGE = 5, 6, 7, 4
# Discord's limits on what a message may carry (https://discord.com/developers/docs/resources/
# message#create-message and .../message#embed-object-embed-limits).
_MAX_CONTENT = 2000
_MAX_EMBEDS = 10
_MAX_EMBED_TOTAL = 6000
_MAX_FIELDS = 25
_EMBED_TEXT_LIMITS = (
    (("title",), 256),
    (("description",), 4096),
    (("footer", "text"), 2048),
    (("author", "name"), 256),
)
_MAX_FIELD_NAME = 256
_MAX_FIELD_VALUE = 1024
_MAX_ACTION_ROWS = 5
_MAX_ROW_COMPONENTS = 5
_MAX_CUSTOM_ID = 100
_MAX_BUTTON_LABEL = 80
_MAX_THREAD_NAME = 100
_IS_COMPONENTS_V2 = 1 << 15
_SUPPRESS_EMBEDS = 1 << 2
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
# (status, code, message) for the errors tests meet most.
_UNKNOWN_CHANNEL = (404, 10003, "Unknown Channel")
_UNKNOWN_MESSAGE = (404, 10008, "Unknown Message")
_UNKNOWN_WEBHOOK = (404, 10015, "Unknown Webhook")
_UNKNOWN_INTERACTION = (404, 10062, "Unknown interaction")
_INVALID_WEBHOOK_TOKEN = (401, 50027, "Invalid Webhook Token")
_ALREADY_ACKNOWLEDGED = (400, 40060, "Interaction has already been acknowledged.")
_EMPTY_MESSAGE = (400, 50006, "Cannot send an empty message")
_MISSING_ACCESS = (403, 50001, "Missing Access")
_DEFAULT_ERRORS = {
    400: (50035, "Invalid Form Body"),
    401: (0, "401: Unauthorized"),
    403: (50013, "Missing Permissions"),
    404: (0, "404: Not Found"),
    500: (0, "500: Internal Server Error"),
    502: (0, "502: Bad Gateway"),
    503: (0, "503: Service Unavailable"),
}


@dataclass(frozen=True)
class RecordedCall:
    """One REST call as the stand-in received and answered it. `path` is after /api/v10;
    `json` is the JSON body, or a multipart body's payload_json; header names lower-cased."""

    method: str
    path: str
    route: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    status: int
    at: float
    files: tuple[str, ...] = ()

    @property
    def body(self) -> dict[str, Any]:
        """The message fields sent: an interaction callback's `data`, else the JSON body."""
        body = self.json if isinstance(self.json, dict) else {}
        if self.route == "interaction.callback":
            return body.get("data") or {}
        return body

    @property
    def content(self) -> str | None:
        return self.body.get("content")

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list(self.body.get("embeds") or [])

    @property
    def allowed_mentions(self) -> dict[str, Any] | None:
        return self.body.get("allowed_mentions")


@dataclass(frozen=True)
class _Route:
    name: str
    method: str
    template: str
    handler: str
    auth: bool

    @property
    def pattern(self) -> re.Pattern[str]:
        pieces = re.split(r"(\{\w+\})", self.template)
        regex = "".join(
            f"(?P<{piece[1:-1]}>[^/]+)" if piece.startswith("{") else re.escape(piece)
            for piece in pieces
        )
        return re.compile(f"^{regex}$")


_WEBHOOK = "/webhooks/{application_id}/{token}"
_COMMANDS = "/applications/{application_id}/commands"
_GUILD_COMMANDS = "/applications/{application_id}/guilds/{guild_id}/commands"
_MESSAGES = "/channels/{channel_id}/messages"
_MESSAGE = _MESSAGES + "/{message_id}"
# Name, method, path, handler, and whether the bot token is required (interaction callbacks
# and follow-up webhooks are authorised by the interaction token in the path). Literal
# segments (@original) come before the templates they would also match.
ROUTES: tuple[_Route, ...] = tuple(
    _Route(*row)
    for row in (
        ("users.me", "GET", "/users/@me", "_users_me", True),
        ("gateway", "GET", "/gateway", "_gateway_url", False),
        ("gateway.bot", "GET", "/gateway/bot", "_gateway_bot", True),
        ("application.me", "GET", "/oauth2/applications/@me", "_application", True),
        ("commands.list", "GET", _COMMANDS, "_commands_list", True),
        ("commands.overwrite", "PUT", _COMMANDS, "_overwrite", True),
        ("guild_commands.list", "GET", _GUILD_COMMANDS, "_commands_list", True),
        ("guild_commands.overwrite", "PUT", _GUILD_COMMANDS, "_overwrite", True),
        (
            "interaction.callback",
            "POST",
            "/interactions/{interaction_id}/{token}/callback",
            "_callback",
            False,
        ),
        ("followup.create", "POST", _WEBHOOK, "_followup", False),
        ("original.get", "GET", _WEBHOOK + "/messages/@original", "_webhook_get", False),
        ("original.edit", "PATCH", _WEBHOOK + "/messages/@original", "_webhook_edit", False),
        ("original.delete", "DELETE", _WEBHOOK + "/messages/@original", "_webhook_delete", False),
        ("followup.get", "GET", _WEBHOOK + "/messages/{message_id}", "_webhook_get", False),
        ("followup.edit", "PATCH", _WEBHOOK + "/messages/{message_id}", "_webhook_edit", False),
        (
            "followup.delete",
            "DELETE",
            _WEBHOOK + "/messages/{message_id}",
            "_webhook_delete",
            False,
        ),
        ("channels.get", "GET", "/channels/{channel_id}", "_channel_get", True),
        ("messages.list", "GET", _MESSAGES, "_messages_list", True),
        ("messages.create", "POST", _MESSAGES, "_messages_create", True),
        ("messages.get", "GET", _MESSAGE, "_message_get", True),
        ("messages.edit", "PATCH", _MESSAGE, "_message_edit", True),
        ("messages.delete", "DELETE", _MESSAGE, "_message_delete", True),
        (
            "threads.create_from_message",
            "POST",
            _MESSAGE + "/threads",
            "_thread_from_message",
            True,
        ),
        ("typing", "POST", "/channels/{channel_id}/typing", "_typing", True),
        ("reactions.add", "PUT", _MESSAGE + "/reactions/{emoji}/@me", "_reaction_add", True),
        (
            "reactions.remove",
            "DELETE",
            _MESSAGE + "/reactions/{emoji}/@me",
            "_reaction_remove",
            True,
        ),
    )
)
_COMPILED = tuple((route, route.pattern) for route in ROUTES)


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: float
    global_: bool
    code: int | None
    message: str | None


@dataclass(frozen=True)
class _Upload:
    field: str
    filename: str
    size: int
    content_type: str


@dataclass(frozen=True)
class _Request:
    route: _Route
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    uploads: tuple[_Upload, ...]


@dataclass
class _Answer:
    """A handler's answer: the HTTP reply, and the gateway events Discord would send with it."""

    body: Any = None
    status: int = 200
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class _Interaction:
    """What the stand-in knows of a dispatched interaction and the replies made to it."""

    id: str
    token: str
    type: int
    channel_id: str
    guild_id: str | None
    user: dict[str, Any]
    name: str | None
    component_message_id: str | None
    dispatched_at: float
    response_type: int | None = None
    responded_at: float | None = None
    original_id: str | None = None
    message_ids: list[str] = field(default_factory=list)


class _DiscordError(Exception):
    """A REST call's error answer: Discord's `{"message", "code", "errors"?}` body."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    @classmethod
    def of(cls, kind: tuple[int, int, str]) -> _DiscordError:
        return cls(*kind)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class _FormErrors:
    """Collects Invalid Form Body errors into Discord's tree ({"content": {"_errors": [...]}})."""

    def __init__(self, prefix: Sequence[str] = ()) -> None:
        self.prefix = tuple(prefix)
        self.tree: dict[str, Any] = {}

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        node = self.tree
        for key in (*self.prefix, *map(str, path)):
            node = node.setdefault(key, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def too_long(self, path: Sequence[str | int], limit: int) -> None:
        self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def raise_if_any(self) -> None:
        if self.tree:
            raise _DiscordError(400, 50035, "Invalid Form Body", self.tree)


class DiscordStandIn:
    """Async context manager: `async with DiscordStandIn() as discord_api: ... rest_base ...`

    `privileged_intents` are those enabled for the app in the developer portal (others make
    IDENTIFY fail with close code 4014); `response_window_s` is how long Discord waits for an
    interaction's first response, `token_lifetime_s` how long its token then works; `echo`
    sends the bot's own messages back as MESSAGE_CREATE/UPDATE/DELETE, as Discord does."""

    rest_base: str
    gateway_url: str
    calls: list[RecordedCall]
    timeline: list[str]
    identifies: list[dict[str, Any]]
    gateway_queries: list[dict[str, str]]
    gateway_commands: list[dict[str, Any]]
    application_id: str = APPLICATION_ID
    bot_user_id: str = BOT_USER_ID
    guild_id: str = GUILD_ID
    channel_id: str = CHANNEL_ID

    def __init__(
        self,
        *,
        token: str = BOT_TOKEN,
        privileged_intents: int = MESSAGE_CONTENT,
        heartbeat_interval_ms: int = _HEARTBEAT_INTERVAL_MS,
        response_window_s: float = 3.0,
        token_lifetime_s: float = 15 * 60.0,
        echo: bool = True,
    ) -> None:
        self.token = token
        self.privileged_intents = privileged_intents
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.response_window_s = response_window_s
        self.token_lifetime_s = token_lifetime_s
        self.echo = echo
        self.calls = []
        self.timeline = []
        self.identifies = []
        self.gateway_queries = []
        self.gateway_commands = []
        self.connections = 0
        self.heartbeats = 0
        self.resumes = 0
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._channels: dict[str, dict[str, Any]] = {CHANNEL_ID: text_channel()}
        # channel id -> message id -> message, in the order they were posted.
        self._messages: defaultdict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self._commands: dict[str | None, dict[str, dict[str, Any]]] = defaultdict(dict)
        self._interactions: dict[str, _Interaction] = {}
        self._by_token: dict[str, _Interaction] = {}
        self._sockets: list[web.WebSocketResponse] = []
        self._socket: web.WebSocketResponse | None = None
        self._session_id: str | None = None
        self._seq = 0
        self._sent: list[dict[str, Any]] = []
        self._ready = False
        self._started = time.monotonic()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    # -- pointing discord.py here ----------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self, client: discord.Client, token: str = BOT_TOKEN) -> AsyncIterator[None]:
        """`client` started (login, gateway, READY, on_ready) and, on exit, closed; its
        start() must then end cleanly. A login or connection failure is raised at once."""
        task = asyncio.create_task(client.start(token))
        try:
            ready = asyncio.ensure_future(self.wait_ready())
            done, _ = await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                ready.cancel()
                task.result()
            await ready
            await asyncio.wait_for(client.wait_until_ready(), 5)
            yield
        finally:
            await client.close()
            await asyncio.wait_for(task, 5)

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py at the stand-in through the class attributes it reads: the REST
        `Route.BASE` (also the webhook module's) and `DiscordWebSocket.DEFAULT_GATEWAY` (a
        plain `Client` connects there without asking /gateway/bot). Restored on exit."""
        routes = {discord.http.Route, discord.webhook.async_.Route}
        saved = [(route, route.BASE) for route in routes]
        saved_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        try:
            for route in routes:
                route.BASE = self.rest_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
            yield
        finally:
            for route, base in saved:
                route.BASE = base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved_gateway

    # -- scripting and inspection ----------------------------------------------------------

    def calls_to(self, route: str) -> list[RecordedCall]:
        """The recorded calls to `route`, in order: a route name ("followup.create") or a
        method and path prefix ("POST /channels/1100000000000000010/messages")."""
        return [call for call in self.calls if _selects(route, call.method, call.path, call.route)]

    async def wait_for(
        self, route: str, count: int = 1, timeout: float = 5.0
    ) -> list[RecordedCall]:
        """Wait until `route` has been called `count` times; return all its calls so far."""
        await self._wait_until(
            lambda: len(self.calls_to(route)) >= count, timeout, f"{count} call(s) to {route}"
        )
        return self.calls_to(route)

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "a condition"
    ) -> None:
        """Wait until `predicate()` holds; it is checked whenever the stand-in records a call,
        a dispatch, a heartbeat or a connection change."""
        await self._wait_until(predicate, timeout, what)

    def fail_with(
        self,
        route: str,
        *,
        status: int = 429,
        retry_after: float = 0.01,
        global_: bool = False,
        times: int = 1,
        code: int | None = None,
        message: str | None = None,
    ) -> None:
        """The next `times` calls to `route` fail with HTTP `status`: a 429 carries
        Retry-After (whole seconds, rounded up, as Discord sends it) and `retry_after` (exact)
        and `global` in the body, which discord.py sleeps out and retries; other statuses carry
        Discord's error JSON (`code`, `message`; defaults per status). discord.py retries a
        500, 502 or 504 itself after 1, 3, 5... seconds."""
        failure = _Failure(status, retry_after, global_, code, message)
        self._failures[route].extend([failure] * times)

    def messages(self, channel_id: str = CHANNEL_ID, *, ephemeral: bool = False) -> list[dict]:
        """The messages `channel_id` shows, oldest first, edits applied; ephemeral replies
        (seen only by the one user) only when asked for."""
        return [
            copy.deepcopy(message)
            for message in self._messages.get(channel_id, {}).values()
            if ephemeral or not message["flags"] & EPHEMERAL
        ]

    def message(self, message_id: str) -> dict[str, Any]:
        """The message `message_id`, in whichever channel it is."""
        for messages in self._messages.values():
            if message_id in messages:
                return copy.deepcopy(messages[message_id])
        raise KeyError(message_id)

    def channel(self, channel_id: str) -> dict[str, Any]:
        """A channel the stand-in knows: the guild's text channel, threads, DMs seen."""
        return copy.deepcopy(self._channels[channel_id])

    def commands(self, guild_id: str | None = None) -> list[dict[str, Any]]:
        """The application commands synced globally, or to `guild_id`."""
        return [copy.deepcopy(command) for command in self._commands[guild_id].values()]

    def response_delay(self, interaction_id: str) -> float | None:
        """Seconds from dispatching interaction `interaction_id` to its first response
        (None if not answered): Discord wants it within 3 s."""
        interaction = self._interactions[interaction_id]
        if interaction.responded_at is None:
            return None
        return interaction.responded_at - interaction.dispatched_at

    @property
    def intents(self) -> int:
        """The intents of the latest IDENTIFY (0 before any)."""
        return int(self.identifies[-1].get("intents") or 0) if self.identifies else 0

    # -- the gateway -----------------------------------------------------------------------

    async def wait_ready(self, timeout: float = 5.0) -> None:
        """Wait until a client has identified and been sent READY and GUILD_CREATE."""
        await self._wait_until(lambda: self._ready, timeout, "a client to be ready")

    async def dispatch(self, event: str, data: Mapping[str, Any]) -> int | None:
        """Send the event `event` (INTERACTION_CREATE, MESSAGE_CREATE, ...) to the connected
        client, as Discord would: a MESSAGE_* event the client's intents exclude is dropped
        (None is returned); without MESSAGE_CONTENT a message's content, embeds, attachments
        and components are blank unless it is a DM, mentions the bot or is the bot's. An
        interaction is remembered (for its callback and follow-ups), a message stored in its
        channel. Returns the event's sequence number."""
        await self.wait_ready()
        payload = copy.deepcopy(dict(data))
        self._observe(event, payload)
        return await self._deliver(event, payload)

    async def slash_command(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        guild_id: str | None = GUILD_ID,
        channel_id: str | None = None,
        user_id: str = USER_ID,
    ) -> dict[str, Any]:
        """A user runs `/name` with `options` (in the guild channel, or a DM when
        `guild_id` is None); the command must have been synced, as the user could not pick it
        otherwise. Returns the dispatched INTERACTION_CREATE payload (its id and token)."""
        command = self._commands[guild_id].get(name) if guild_id else None
        if command is None:
            command = self._commands[None].get(name)
        if command is None:
            raise LookupError(f"/{name} is not synced globally or to guild {guild_id}")
        payload = slash_command(
            name,
            options,
            guild_id=guild_id,
            channel=self._channels.get(channel_id) if channel_id else None,
            user_id=user_id,
            command_id=command["id"],
            command_guild_id=command.get("guild_id"),
        )
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def button_click(
        self, custom_id: str, *, message_id: str, user_id: str = USER_ID
    ) -> dict[str, Any]:
        """A user clicks the button `custom_id` on the stored message `message_id`. Returns
        the dispatched INTERACTION_CREATE payload."""
        message = self.message(message_id)
        buttons = [
            component.get("custom_id")
            for row in message.get("components", [])
            for component in row.get("components", [])
        ]
        if custom_id not in buttons:
            raise LookupError(f"message {message_id} has no button {custom_id!r}: {buttons}")
        channel = self._channels[message["channel_id"]]
        payload = button_click(
            custom_id,
            message=message,
            guild_id=channel.get("guild_id"),
            user_id=user_id,
            channel=channel,
        )
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def user_message(
        self,
        content: str,
        *,
        channel_id: str | None = None,
        author_id: str = USER_ID,
        reply_to: str | None = None,
        mentions: Sequence[str] | None = None,
        dm: bool = False,
    ) -> dict[str, Any]:
        """Someone posts `content` in `channel_id` (the guild channel by default; a thread the
        stand-in knows; or, with `dm=True`, their DM with the bot), replying to the stored
        message `reply_to` if given. Returns the MESSAGE_CREATE payload (before intents)."""
        guild_id: str | None = None if dm else GUILD_ID
        channel_id = channel_id or (DM_CHANNEL_ID if dm else CHANNEL_ID)
        channel = self._channels.get(channel_id)
        if channel is not None:
            guild_id = channel.get("guild_id")
        reference = None
        referenced = None
        if reply_to is not None:
            referenced = self.message(reply_to)
            reference = {"message_id": reply_to, "channel_id": referenced["channel_id"]}
            if guild_id:
                reference["guild_id"] = guild_id
        payload = message_create(
            content,
            channel_id=channel_id,
            author_id=author_id,
            guild_id=guild_id,
            mentions=mentions,
            message_reference=reference,
            referenced_message=referenced,
            channel_type=channel["type"] if channel is not None else None,
        )
        await self.dispatch("MESSAGE_CREATE", payload)
        return payload

    async def request_reconnect(self, timeout: float = 5.0) -> None:
        """Send RECONNECT (op 7), as Discord does before moving a session, and wait until the
        client has resumed (or identified again)."""
        if self._socket is None:
            raise RuntimeError("no client is connected")
        sessions = self.resumes + len(self.identifies)
        self.timeline.append("reconnect")
        await self._send(self._socket, {"op": _RECONNECT, "d": None, "s": None, "t": None})
        await self._wait_until(
            lambda: self.resumes + len(self.identifies) > sessions and self._ready,
            timeout,
            "the client to resume",
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> DiscordStandIn:
        app = web.Application()
        app.router.add_get(GATEWAY_PATH, self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner, port = await serve(app, _SHUTDOWN_GRACE_S)
        self._base = f"http://127.0.0.1:{port}"
        self.rest_base = f"{self._base}{API_PREFIX}"
        self.gateway_url = f"ws://127.0.0.1:{port}{GATEWAY_PATH}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for socket in list(self._sockets):
            await socket.close(code=WSCloseCode.GOING_AWAY, message=b"stand-in stopped")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- REST transport --------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = request.path.removeprefix(API_PREFIX)
        headers = {name.lower(): value for name, value in request.headers.items()}
        body, uploads = await _read_body(request)
        route, params, allowed = _resolve(request.method, path)
        name = route.name if route is not None else "unknown"
        # Answering and recording run without an await between them, so whoever wakes on the
        # call also sees its effect on the store.
        query = dict(request.query)
        try:
            answer = self._refusal(request.method, path, route, allowed, headers)
            if answer is None and route is not None:
                handler: Callable[[_Request], _Answer] = getattr(self, route.handler)
                answer = handler(_Request(route, params, query, body, uploads))
        except _DiscordError as error:
            answer = _Answer(_json_response(error.body(), error.status), error.status)
        assert answer is not None
        self.calls.append(
            RecordedCall(
                method=request.method,
                path=path,
                route=name,
                params=params,
                query=query,
                json=body,
                headers=headers,
                status=answer.status,
                at=time.monotonic() - self._started,
                files=tuple(upload.filename for upload in uploads),
            )
        )
        self.timeline.append(f"rest:{name}")
        for event, data in answer.events:
            await self._deliver(event, data)
        await self._notify()
        return _response_for(answer)

    def _refusal(
        self,
        method: str,
        path: str,
        route: _Route | None,
        allowed: list[str],
        headers: dict[str, str],
    ) -> _Answer | None:
        """A scripted failure for this call, or a routing or auth error (raised); None lets
        the route's handler answer."""
        name = route.name if route is not None else "unknown"
        for selector, failures in self._failures.items():
            if failures and _selects(selector, method, path, name):
                return _failure_answer(failures.popleft())
        if route is None:
            if allowed:
                raise _DiscordError(405, 0, "405: Method Not Allowed")
            raise _DiscordError(404, 0, "404: Not Found")
        if route.auth and headers.get("authorization") != f"Bot {self.token}":
            raise _DiscordError(401, 0, "401: Unauthorized")
        return None

    # -- REST: identity, gateway, commands -------------------------------------------------

    def _users_me(self, request: _Request) -> _Answer:
        return _Answer(bot_user())

    def _gateway_url(self, request: _Request) -> _Answer:
        return _Answer({"url": self.gateway_url})

    def _gateway_bot(self, request: _Request) -> _Answer:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return _Answer({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    def _application(self, request: _Request) -> _Answer:
        return _Answer(
            {
                "id": APPLICATION_ID,
                "name": "helpbot",
                "icon": None,
                "description": "Answers questions from the team's docs.",
                "summary": "",
                "type": None,
                "hook": True,
                "bot_public": False,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": self._application_flags(),
                "owner": user(OWNER_ID),
                "team": None,
                "bot": bot_user(),
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "tags": [],
                "integration_types_config": {"0": {}},
                "approximate_guild_count": 1,
            }
        )

    def _commands_list(self, request: _Request) -> _Answer:
        guild_id = self._command_scope(request)
        return _Answer(self.commands(guild_id))

    def _overwrite(self, request: _Request) -> _Answer:
        """Bulk overwrite: the given commands replace the scope's; a command keeps its id
        across syncs (matched by name and type), as in Discord."""
        guild_id = self._command_scope(request)
        given = request.json
        if not isinstance(given, list):
            raise _DiscordError(400, 50035, "Invalid Form Body", _type_error("array"))
        errors = _FormErrors()
        for index, command in enumerate(given):
            _check_command(command, index, errors)
        if len(given) > 100:
            errors.too_long([], 100)
        errors.raise_if_any()
        old = self._commands[guild_id]
        synced: dict[str, dict[str, Any]] = {}
        for command in given:
            previous = old.get(command["name"])
            if previous is None or previous["type"] != command.get("type", 1):
                previous = {"id": new_snowflake()}
            stored = {
                "id": previous["id"],
                "application_id": APPLICATION_ID,
                "version": new_snowflake(),
                "default_member_permissions": command.get("default_member_permissions"),
                "type": command.get("type", 1),
                "name": command["name"],
                "name_localizations": command.get("name_localizations"),
                "description": command.get("description", ""),
                "description_localizations": command.get("description_localizations"),
                "options": command.get("options", []),
                "nsfw": command.get("nsfw", False),
            }
            if guild_id is None:
                stored["dm_permission"] = command.get("dm_permission", True)
                stored["contexts"] = command.get("contexts")
                stored["integration_types"] = command.get("integration_types") or [0]
            else:
                stored["guild_id"] = guild_id
            synced[command["name"]] = stored
        self._commands[guild_id] = synced
        return _Answer(self.commands(guild_id))

    def _command_scope(self, request: _Request) -> str | None:
        if request.params["application_id"] != APPLICATION_ID:
            raise _DiscordError.of(_MISSING_ACCESS)
        guild_id = request.params.get("guild_id")
        if guild_id is not None and guild_id != GUILD_ID:
            raise _DiscordError.of(_MISSING_ACCESS)
        return guild_id

    # -- REST: interactions ----------------------------------------------------------------

    def _callback(self, request: _Request) -> _Answer:
        interaction = self._interactions.get(request.params["interaction_id"])
        if interaction is None or interaction.token != request.params["token"]:
            raise _DiscordError.of(_UNKNOWN_INTERACTION)
        now = self._now()
        if now - interaction.dispatched_at > self.response_window_s:
            # Too late: Discord has told the user "The application did not respond".
            raise _DiscordError.of(_UNKNOWN_INTERACTION)
        if interaction.response_type is not None:
            raise _DiscordError.of(_ALREADY_ACKNOWLEDGED)
        body = request.json if isinstance(request.json, dict) else {}
        kind = body.get("type")
        data = body.get("data") or {}
        components_only = (_DEFERRED_UPDATE, _UPDATE_MESSAGE)
        if kind not in (_CHANNEL_MESSAGE, _DEFERRED_MESSAGE, *components_only, 8, 9) or (
            kind in components_only and interaction.type != MESSAGE_COMPONENT
        ):
            errors = _FormErrors()
            errors.add(["type"], "INTERACTION_CALLBACK_TYPE_INVALID", "Invalid callback type")
            errors.raise_if_any()
        answer = _Answer()
        message: dict[str, Any] | None = None
        if kind == _CHANNEL_MESSAGE:
            _check_message(data, request.uploads, prefix=["data"], creating=True)
            message = self._interaction_message(interaction, data, request.uploads)
            answer.events = self._store(message)
            interaction.original_id = message["id"]
        elif kind == _DEFERRED_MESSAGE:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            loading = self._interaction_message(interaction, {}, (), flags=flags)
            answer.events = self._store(loading)
            interaction.original_id = loading["id"]
        elif kind == _UPDATE_MESSAGE:
            _check_message(data, request.uploads, prefix=["data"], creating=False)
            target = self._find(interaction.channel_id, interaction.component_message_id)
            answer.events = self._edit(target, data, request.uploads)
            message = target
        elif kind == _DEFERRED_UPDATE:
            pass
        interaction.response_type = kind
        interaction.responded_at = now
        if not _truthy(request.query.get("with_response")):
            answer.status = 204
            return answer
        original = self._original(interaction)
        callback: dict[str, Any] = {"id": interaction.id, "type": interaction.type}
        if original is not None:
            callback.update(
                response_message_id=original["id"],
                response_message_loading=bool(original["flags"] & LOADING),
                response_message_ephemeral=bool(original["flags"] & EPHEMERAL),
            )
        resource: dict[str, Any] = {"type": kind}
        if message is not None:
            resource["message"] = copy.deepcopy(message)
        answer.body = {"interaction": callback, "resource": resource}
        return answer

    def _followup(self, request: _Request) -> _Answer:
        interaction = self._webhook_interaction(request)
        data = request.json if isinstance(request.json, dict) else {}
        _check_message(data, request.uploads, prefix=[], creating=True)
        original = self._original(interaction)
        if (
            interaction.response_type == _DEFERRED_MESSAGE
            and original is not None
            and original["flags"] & LOADING
        ):
            # The first follow-up after a deferred reply fills in the "thinking" message
            # rather than posting a new one (it keeps the deferral's ephemeral flag).
            events = self._edit(original, {**data, "flags": original["flags"]}, request.uploads)
            return _Answer(copy.deepcopy(original), events=events)
        flags = int(data.get("flags") or 0) & (EPHEMERAL | _IS_COMPONENTS_V2 | _SUPPRESS_EMBEDS)
        message = self._interaction_message(interaction, data, request.uploads, flags=flags)
        events = self._store(message)
        return _Answer(copy.deepcopy(message), events=events)

    def _webhook_get(self, request: _Request) -> _Answer:
        interaction = self._webhook_interaction(request)
        return _Answer(copy.deepcopy(self._webhook_message(interaction, request)))

    def _webhook_edit(self, request: _Request) -> _Answer:
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(interaction, request)
        data = request.json if isinstance(request.json, dict) else {}
        _check_message(data, request.uploads, prefix=[], creating=False)
        events = self._edit(message, data, request.uploads)
        return _Answer(copy.deepcopy(message), events=events)

    def _webhook_delete(self, request: _Request) -> _Answer:
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(interaction, request)
        return _Answer(status=204, events=self._delete(message))

    def _webhook_interaction(self, request: _Request) -> _Interaction:
        """The interaction a follow-up webhook URL names; it must have been answered first,
        and its token lasts `token_lifetime_s`."""
        interaction = self._by_token.get(request.params["token"])
        if request.params["application_id"] != APPLICATION_ID or interaction is None:
            raise _DiscordError.of(_UNKNOWN_WEBHOOK)
        if self._now() - interaction.dispatched_at > self.token_lifetime_s:
            raise _DiscordError.of(_INVALID_WEBHOOK_TOKEN)
        if interaction.response_type is None:
            raise _DiscordError.of(_UNKNOWN_WEBHOOK)
        return interaction

    def _webhook_message(self, interaction: _Interaction, request: _Request) -> dict[str, Any]:
        message_id = request.params.get("message_id")
        if message_id is None:
            message = self._original(interaction)
            if message is None:
                raise _DiscordError.of(_UNKNOWN_MESSAGE)
            return message
        if message_id not in interaction.message_ids:
            raise _DiscordError.of(_UNKNOWN_MESSAGE)
        return self._find(interaction.channel_id, message_id)

    def _original(self, interaction: _Interaction) -> dict[str, Any] | None:
        """The interaction's original response; for a component interaction answered with an
        update, the message the component is on."""
        message_id = interaction.original_id
        if message_id is None and interaction.response_type in (_DEFERRED_UPDATE, _UPDATE_MESSAGE):
            message_id = interaction.component_message_id
        if message_id is None:
            return None
        return self._messages.get(interaction.channel_id, {}).get(message_id)

    def _interaction_message(
        self,
        interaction: _Interaction,
        data: Mapping[str, Any],
        uploads: Sequence[_Upload],
        *,
        flags: int | None = None,
    ) -> dict[str, Any]:
        kind = CHAT_INPUT_COMMAND if interaction.type == APPLICATION_COMMAND else DEFAULT_MESSAGE
        if flags is None:
            flags = int(data.get("flags") or 0) & (EPHEMERAL | _IS_COMPONENTS_V2 | _SUPPRESS_EMBEDS)
        message = self._new_message(interaction.channel_id, data, uploads, kind=kind, flags=flags)
        metadata: dict[str, Any] = {
            "id": interaction.id,
            "type": interaction.type,
            "user": interaction.user,
            "authorizing_integration_owners": {"0": interaction.guild_id or "0"},
        }
        if interaction.name is not None:
            metadata["name"] = interaction.name
            metadata["command_type"] = 1
        message.update(
            webhook_id=APPLICATION_ID,
            application_id=APPLICATION_ID,
            interaction_metadata=metadata,
        )
        if interaction.name is not None:
            message["interaction"] = {
                "id": interaction.id,
                "type": interaction.type,
                "name": interaction.name,
                "user": interaction.user,
            }
        interaction.message_ids.append(message["id"])
        return message

    # -- REST: channels and messages -------------------------------------------------------

    def _channel_get(self, request: _Request) -> _Answer:
        return _Answer(copy.deepcopy(self._known_channel(request)))

    def _messages_list(self, request: _Request) -> _Answer:
        """Newest first, as Discord pages them: `before`, `after` or `around` a message id."""
        self._known_channel(request)
        messages = self.messages(request.params["channel_id"])
        limit = max(1, min(100, int(request.query.get("limit", 50))))
        ids = [int(message["id"]) for message in messages]
        if "before" in request.query:
            cut = int(request.query["before"])
            page = [m for m, i in zip(messages, ids, strict=True) if i < cut][-limit:]
        elif "after" in request.query:
            cut = int(request.query["after"])
            page = [m for m, i in zip(messages, ids, strict=True) if i > cut][:limit]
        elif "around" in request.query:
            cut = int(request.query["around"])
            older = [m for m, i in zip(messages, ids, strict=True) if i < cut]
            rest = [m for m, i in zip(messages, ids, strict=True) if i >= cut]
            page = older[-(limit // 2) :] if limit // 2 else []
            page += rest[: limit - len(page)]
        else:
            page = messages[-limit:]
        return _Answer(list(reversed(page)))

    def _messages_create(self, request: _Request) -> _Answer:
        channel = self._known_channel(request)
        data = request.json if isinstance(request.json, dict) else {}
        _check_message(data, request.uploads, prefix=[], creating=True)
        reference = data.get("message_reference")
        referenced = None
        if isinstance(reference, dict) and reference.get("message_id"):
            channel_id = str(reference.get("channel_id") or channel["id"])
            referenced = self._messages.get(channel_id, {}).get(str(reference["message_id"]))
            if referenced is None and reference.get("fail_if_not_exists", True):
                errors = _FormErrors()
                errors.add(
                    ["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
                errors.raise_if_any()
        kind = REPLY if referenced is not None else DEFAULT_MESSAGE
        flags = int(data.get("flags") or 0) & (_SUPPRESS_EMBEDS | _IS_COMPONENTS_V2 | 1 << 12)
        message = self._new_message(
            channel["id"], data, request.uploads, kind=kind, flags=flags, replying_to=referenced
        )
        if referenced is not None:
            message["message_reference"] = {
                "type": 0,
                "channel_id": referenced["channel_id"],
                "message_id": referenced["id"],
                **({"guild_id": channel["guild_id"]} if channel.get("guild_id") else {}),
            }
            message["referenced_message"] = copy.deepcopy(referenced)
        if data.get("nonce") is not None:
            message["nonce"] = data["nonce"]
        return _Answer(copy.deepcopy(message), events=self._store(message))

    def _message_get(self, request: _Request) -> _Answer:
        self._known_channel(request)
        message = self._find(request.params["channel_id"], request.params["message_id"])
        return _Answer(copy.deepcopy(message))

    def _message_edit(self, request: _Request) -> _Answer:
        self._known_channel(request)
        message = self._find(request.params["channel_id"], request.params["message_id"])
        if message["author"]["id"] != BOT_USER_ID:
            raise _DiscordError(403, 50005, "Cannot edit a message authored by another user")
        data = request.json if isinstance(request.json, dict) else {}
        _check_message(data, request.uploads, prefix=[], creating=False)
        events = self._edit(message, data, request.uploads)
        return _Answer(copy.deepcopy(message), events=events)

    def _message_delete(self, request: _Request) -> _Answer:
        self._known_channel(request)
        message = self._find(request.params["channel_id"], request.params["message_id"])
        if message["author"]["id"] != BOT_USER_ID:
            # Deleting others' messages needs MANAGE_MESSAGES, which the bot lacks.
            raise _DiscordError(403, 50013, "Missing Permissions")
        return _Answer(status=204, events=self._delete(message))

    def _thread_from_message(self, request: _Request) -> _Answer:
        channel = self._known_channel(request)
        message = self._find(channel["id"], request.params["message_id"])
        data = request.json if isinstance(request.json, dict) else {}
        name = str(data.get("name") or "")
        errors = _FormErrors()
        if not name:
            errors.add(["name"], "BASE_TYPE_REQUIRED", "This field is required")
        elif len(name) > _MAX_THREAD_NAME:
            errors.too_long(["name"], _MAX_THREAD_NAME)
        errors.raise_if_any()
        if channel["type"] != 0:
            raise _DiscordError(400, 50024, "Cannot execute action on this channel type")
        if message["id"] in self._channels:
            raise _DiscordError(400, 160004, "A thread has already been created for this message")
        thread = thread_channel(
            message["id"],
            name=name,
            parent_id=channel["id"],
            auto_archive_duration=int(data.get("auto_archive_duration") or 1440),
        )
        self._channels[thread["id"]] = thread
        message["thread"] = copy.deepcopy(thread)
        message["flags"] |= HAS_THREAD
        events = [("THREAD_CREATE", thread_create(thread))]
        return _Answer(copy.deepcopy(thread), 201, events=events)

    def _typing(self, request: _Request) -> _Answer:
        self._known_channel(request)
        return _Answer(status=204)

    def _reaction_add(self, request: _Request) -> _Answer:
        self._known_channel(request)
        message = self._find(request.params["channel_id"], request.params["message_id"])
        name = request.params["emoji"]
        reactions = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["emoji"]["name"] == name and not reaction["me"]:
                reaction["count"] += 1
                reaction["count_details"]["normal"] += 1
                reaction["me"] = True
        if not any(reaction["emoji"]["name"] == name for reaction in reactions):
            reactions.append(
                {
                    "emoji": {"id": None, "name": name},
                    "count": 1,
                    "count_details": {"burst": 0, "normal": 1},
                    "burst_colors": [],
                    "me_burst": False,
                    "burst_me": False,
                    "me": True,
                    "burst_count": 0,
                }
            )
        return _Answer(status=204)

    def _reaction_remove(self, request: _Request) -> _Answer:
        self._known_channel(request)
        message = self._find(request.params["channel_id"], request.params["message_id"])
        for reaction in list(message.get("reactions", [])):
            if reaction["emoji"]["name"] == request.params["emoji"] and reaction["me"]:
                reaction["me"] = False
                reaction["count"] -= 1
                reaction["count_details"]["normal"] -= 1
                if not reaction["count"]:
                    message["reactions"].remove(reaction)
        if not message.get("reactions"):
            message.pop("reactions", None)
        return _Answer(status=204)

    # -- the message store -----------------------------------------------------------------

    def _known_channel(self, request: _Request) -> dict[str, Any]:
        channel = self._channels.get(request.params["channel_id"])
        if channel is None:
            raise _DiscordError.of(_UNKNOWN_CHANNEL)
        return channel

    def _find(self, channel_id: str, message_id: str | None) -> dict[str, Any]:
        message = self._messages.get(channel_id, {}).get(message_id or "")
        if message is None:
            raise _DiscordError.of(_UNKNOWN_MESSAGE)
        return message

    def _new_message(
        self,
        channel_id: str,
        data: Mapping[str, Any],
        uploads: Sequence[_Upload],
        *,
        kind: int,
        flags: int,
        replying_to: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A message the bot posts, with the mentions Discord parses from its content under
        its `allowed_mentions`."""
        message_id = new_snowflake()
        message: dict[str, Any] = {
            "type": kind,
            "content": "",
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "timestamp": snowflake_time(message_id),
            "edited_timestamp": None,
            "flags": flags,
            "components": [],
            "id": message_id,
            "channel_id": channel_id,
            "author": user(BOT_USER_ID, bot=True),
            "pinned": False,
            "mention_everyone": False,
            "tts": bool(data.get("tts")),
        }
        replied_user = replying_to["author"]["id"] if replying_to is not None else None
        self._apply(message, data, uploads, replied_user=replied_user)
        return message

    def _apply(
        self,
        message: dict[str, Any],
        data: Mapping[str, Any],
        uploads: Sequence[_Upload],
        *,
        replied_user: str | None = None,
    ) -> None:
        """Set the fields `data` gives (content, embeds, components, attachments), and the
        mentions parsed from the content."""
        if "content" in data:
            message["content"] = data["content"] or ""
        if "embeds" in data:
            message["embeds"] = [{"type": "rich", **embed} for embed in data["embeds"] or []]
        if "components" in data:
            message["components"] = copy.deepcopy(data["components"] or [])
        if "attachments" in data or uploads:
            kept = {str(a.get("id")) for a in data.get("attachments") or []}
            attachments = [a for a in message["attachments"] if a["id"] in kept]
            for upload in uploads:
                attachment_id = new_snowflake()
                url = f"{self._base}/attachments/{message['channel_id']}/{attachment_id}"
                url += f"/{upload.filename}"
                attachments.append(
                    {
                        "id": attachment_id,
                        "filename": upload.filename,
                        "size": upload.size,
                        "url": url,
                        "proxy_url": url,
                        "content_type": upload.content_type,
                    }
                )
            message["attachments"] = attachments
        guild_id = self._channels.get(message["channel_id"], {}).get("guild_id")
        users, roles, everyone = _parse_mentions(
            message["content"], data.get("allowed_mentions"), replied_user
        )
        message["mentions"] = [mentioned(user_id, guild_id) for user_id in users]
        message["mention_roles"] = roles
        message["mention_everyone"] = everyone

    def _store(self, message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Keep `message` in its channel; return the MESSAGE_CREATE to echo."""
        self._messages[message["channel_id"]][message["id"]] = message
        channel = self._channels.get(message["channel_id"])
        if channel is not None:
            channel["last_message_id"] = message["id"]
        return self._echo("MESSAGE_CREATE", message)

    def _edit(
        self, message: dict[str, Any], data: Mapping[str, Any], uploads: Sequence[_Upload]
    ) -> list[tuple[str, dict[str, Any]]]:
        """Apply an edit; a deferred reply stops "thinking". Returns the MESSAGE_UPDATE."""
        before = copy.deepcopy(message)
        self._apply(message, data, uploads)
        if (
            not (message["content"] or message["embeds"] or message["components"])
            and not (message["attachments"])
        ):
            message.clear()
            message.update(before)
            raise _DiscordError.of(_EMPTY_MESSAGE)
        if "flags" in data and data["flags"] is not None:
            keep = message["flags"] & ~_SUPPRESS_EMBEDS
            message["flags"] = keep | (int(data["flags"]) & _SUPPRESS_EMBEDS)
        message["flags"] &= ~LOADING
        message["edited_timestamp"] = snowflake_time(new_snowflake())
        return self._echo("MESSAGE_UPDATE", message)

    def _delete(self, message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        del self._messages[message["channel_id"]][message["id"]]
        deleted = {"id": message["id"], "channel_id": message["channel_id"]}
        guild_id = self._channels.get(message["channel_id"], {}).get("guild_id")
        if guild_id:
            deleted["guild_id"] = guild_id
        return [("MESSAGE_DELETE", deleted)] if self.echo else []

    def _echo(self, event: str, message: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The gateway event Discord sends for the bot's own message (none for ephemeral)."""
        if not self.echo or message["flags"] & EPHEMERAL:
            return []
        data = copy.deepcopy(dict(message))
        channel = self._channels.get(message["channel_id"], {})
        data["channel_type"] = channel.get("type", 0)
        if channel.get("guild_id"):
            data["guild_id"] = channel["guild_id"]
            data["member"] = bot_member(with_user=False)
        return [(event, data)]

    def _observe(self, event: str, data: dict[str, Any]) -> None:
        """What Discord knows once it sends `event`: the interaction, message or thread."""
        if event == "INTERACTION_CREATE":
            who = data.get("member", {}).get("user") or data.get("user") or {}
            interaction = _Interaction(
                id=str(data["id"]),
                token=str(data["token"]),
                type=int(data["type"]),
                channel_id=str(data.get("channel_id") or data.get("channel", {}).get("id")),
                guild_id=data.get("guild_id"),
                user=who,
                name=(data.get("data") or {}).get("name"),
                component_message_id=(data.get("message") or {}).get("id"),
                dispatched_at=self._now(),
            )
            self._interactions[interaction.id] = interaction
            self._by_token[interaction.token] = interaction
            if interaction.guild_id is None and interaction.channel_id not in self._channels:
                self._channels[interaction.channel_id] = dm_channel(
                    interaction.channel_id, recipient_id=str(who.get("id", USER_ID))
                )
        elif event == "MESSAGE_CREATE":
            channel_id = str(data["channel_id"])
            if "guild_id" not in data and channel_id not in self._channels:
                self._channels[channel_id] = dm_channel(
                    channel_id, recipient_id=str(data["author"]["id"])
                )
            stored = {
                k: copy.deepcopy(v)
                for k, v in data.items()
                if k not in ("guild_id", "member", "channel_type")
            }
            self._messages[channel_id][str(data["id"])] = stored
            if channel_id in self._channels:
                self._channels[channel_id]["last_message_id"] = str(data["id"])
        elif event == "THREAD_CREATE":
            thread = {
                k: copy.deepcopy(v) for k, v in data.items() if k not in ("member", "newly_created")
            }
            self._channels[str(data["id"])] = thread

    # -- gateway transport -----------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(timeout=_WS_CLOSE_TIMEOUT_S)
        await socket.prepare(request)
        self.gateway_queries.append(dict(request.query))
        self._sockets.append(socket)
        self.connections += 1
        self.timeline.append("connect")
        try:
            if request.query.get("v") != "10":
                await socket.close(code=4012, message=b"Invalid API version.")
                return socket
            if request.query.get("encoding", "json") != "json":
                await socket.close(code=4002, message=b"Error while decoding payload.")
                return socket
            hello = {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["stand-in"]}
            await self._send(socket, {"op": _HELLO, "d": hello, "s": None, "t": None})
            await self._notify()
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    await self._receive(socket, json.loads(message.data))
        finally:
            self._sockets.remove(socket)
            if self._socket is socket:
                self._socket = None
                self._ready = False
            self.timeline.append("close")
            await self._notify()
        return socket

    async def _receive(self, socket: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == _HEARTBEAT:
            self.heartbeats += 1
            await self._send(socket, {"op": _HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            await self._notify()
        elif op == _IDENTIFY:
            await self._identify(socket, data or {})
        elif op == _RESUME:
            await self._resume(socket, data or {})
        elif op == _REQUEST_MEMBERS:
            self.gateway_commands.append(frame)
            await self._members_chunk(socket, data or {})
        elif op == _PRESENCE:
            self.gateway_commands.append(frame)
        else:
            await socket.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, socket: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await socket.close(code=4004, message=b"Authentication failed.")
            return
        if socket is self._socket:
            await socket.close(code=4005, message=b"Already authenticated.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0:
            await socket.close(code=4013, message=b"Invalid intent(s).")
            return
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await socket.close(code=4014, message=b"Disallowed intent(s).")
            return
        self.identifies.append(data)
        self.timeline.append("identify")
        self._socket = socket
        self._session_id = uuid.uuid4().hex
        self._seq = 0
        self._sent = []
        await self._deliver(
            "READY",
            ready(
                session_id=self._session_id,
                resume_gateway_url=self.gateway_url,
                application_flags=self._application_flags(),
                shard=data.get("shard"),
            ),
        )
        members = [bot_member()]
        if intents & GUILD_MEMBERS:
            members += [member(USER_ID), member(OTHER_USER_ID)]
        threads = [c for c in self._channels.values() if c["type"] == 11]
        await self._deliver(
            "GUILD_CREATE", guild_create(threads=copy.deepcopy(threads), members=members)
        )
        self._ready = True
        await self._notify()

    async def _resume(self, socket: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await socket.close(code=4004, message=b"Authentication failed.")
            return
        if data.get("session_id") != self._session_id or self._session_id is None:
            # discord.py then closes and identifies again.
            await self._send(socket, {"op": _INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        self.resumes += 1
        self.timeline.append("resume")
        self._socket = socket
        missed = [frame for frame in self._sent if frame["s"] > int(data.get("seq") or 0)]
        for frame in missed:
            await self._send(socket, frame)
        await self._deliver("RESUMED", {"_trace": ["stand-in"]})
        self._ready = True
        await self._notify()

    async def _members_chunk(self, socket: web.WebSocketResponse, data: dict[str, Any]) -> None:
        chunk = {
            "guild_id": str(data.get("guild_id", GUILD_ID)),
            "members": [bot_member(), member(USER_ID), member(OTHER_USER_ID)],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self._deliver("GUILD_MEMBERS_CHUNK", chunk)

    async def _deliver(self, event: str, data: dict[str, Any]) -> int | None:
        """Send a dispatch to the current session, applying the intents' rules."""
        socket = self._socket
        if socket is None or socket.closed:
            return None
        intents = self.intents
        if event.startswith("MESSAGE_"):
            needed = GUILD_MESSAGES if data.get("guild_id") else DIRECT_MESSAGES
            if not intents & needed:
                self.timeline.append(f"dropped:{event}")
                return None
            if event != "MESSAGE_DELETE" and not intents & MESSAGE_CONTENT:
                data = _as_seen_without_content(data)
        elif event.startswith("THREAD_") and not intents & GUILDS:
            self.timeline.append(f"dropped:{event}")
            return None
        self._seq += 1
        frame = {"op": _DISPATCH, "s": self._seq, "t": event, "d": data}
        self._sent.append(frame)
        self.timeline.append(f"dispatch:{event}")
        await self._send(socket, frame)
        await self._notify()
        return self._seq

    async def _send(self, socket: web.WebSocketResponse, frame: Mapping[str, Any]) -> None:
        if not socket.closed:
            await socket.send_str(json.dumps(frame))

    def _application_flags(self) -> int:
        # GATEWAY_MESSAGE_CONTENT_LIMITED / GATEWAY_GUILD_MEMBERS_LIMITED: the portal toggles.
        flags = 0
        if self.privileged_intents & MESSAGE_CONTENT:
            flags |= 1 << 19
        if self.privileged_intents & GUILD_MEMBERS:
            flags |= 1 << 15
        return flags

    def _now(self) -> float:
        return time.monotonic() - self._started

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(ready)
        except TimeoutError:
            seen = ", ".join(self.timeline[-20:]) or "nothing"
            raise TimeoutError(f"waited {timeout} s for {what}; saw: {seen}") from None


def _resolve(method: str, path: str) -> tuple[_Route | None, dict[str, str], list[str]]:
    """The route for `method` and `path`, its path parameters, and (when none matches the
    method) the methods the path allows."""
    allowed: list[str] = []
    for route, pattern in _COMPILED:
        match = pattern.match(path)
        if match is None:
            continue
        if route.method == method:
            return route, match.groupdict(), []
        allowed.append(route.method)
    return None, {}, allowed


def _selects(selector: str, method: str, path: str, route: str) -> bool:
    verb, _, prefix = selector.partition(" ")
    if prefix:
        return method == verb and path.startswith(prefix)
    return route == selector


def _failure_answer(failure: _Failure) -> _Answer:
    if failure.status == 429:
        body = {
            "message": failure.message or "You are being rate limited.",
            "retry_after": failure.retry_after,
            "global": failure.global_,
        }
        if failure.code is not None:
            body["code"] = failure.code
        headers = {
            "Retry-After": str(math.ceil(failure.retry_after)),
            "X-RateLimit-Scope": "global" if failure.global_ else "user",
            # discord.py takes a 429 without Via for a Cloudflare ban and gives up.
            "Via": "1.1 google",
        }
        if failure.global_:
            headers["X-RateLimit-Global"] = "true"
        return _Answer(_json_response(body, 429, headers), 429)
    code, message = _DEFAULT_ERRORS.get(failure.status, (0, f"{failure.status}: Error"))
    body = {
        "message": failure.message or message,
        "code": code if failure.code is None else failure.code,
    }
    return _Answer(_json_response(body, failure.status), failure.status)


def _response_for(answer: _Answer) -> web.Response:
    if isinstance(answer.body, web.Response):
        return answer.body
    if answer.status == 204:
        return web.Response(status=204)
    return _json_response(answer.body, answer.status)


def _json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    # Exactly "application/json", no charset: discord.py parses a body only then.
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


async def _read_body(request: web.Request) -> tuple[Any, tuple[_Upload, ...]]:
    """A JSON body, or a multipart body's payload_json and its files."""
    if not request.body_exists:
        return None, ()
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        payload: Any = None
        uploads: list[_Upload] = []
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            data = await part.read()
            if part.name == "payload_json":
                payload = json.loads(data)
            elif part.filename:
                kind = part.headers.get("Content-Type", "application/octet-stream")
                uploads.append(_Upload(part.name or "", part.filename, len(data), kind))
        return payload, tuple(uploads)
    text = await request.text()
    if request.content_type == "application/json" and text:
        return json.loads(text), ()
    return text or None, ()


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


def _type_error(kind: str) -> dict[str, Any]:
    return {"_errors": [{"code": "BASE_TYPE_BAD_TYPE", "message": f"Must be a valid {kind}."}]}


def _check_command(command: Any, index: int, errors: _FormErrors) -> None:
    if not isinstance(command, dict):
        errors.add([index], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    name = str(command.get("name") or "")
    chat_input = command.get("type", 1) == 1
    if not _COMMAND_NAME.match(name) or (chat_input and name != name.lower()):
        errors.add([index, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    description = str(command.get("description") or "")
    if chat_input and not 1 <= len(description) <= 100:
        errors.add(
            [index, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
        )
    options = command.get("options") or []
    if len(options) > 25:
        errors.too_long([index, "options"], 25)
    seen_optional = False
    for position, option in enumerate(options):
        if option.get("required"):
            if seen_optional:
                errors.add(
                    [index, "options", position, "required"],
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        elif option.get("type") not in (1, 2):
            seen_optional = True
        option_name = str(option.get("name") or "")
        if not _COMMAND_NAME.match(option_name) or option_name != option_name.lower():
            errors.add(
                [index, "options", position, "name"],
                "APPLICATION_COMMAND_INVALID_NAME",
                "Command name is invalid",
            )


def _check_message(
    data: Mapping[str, Any],
    uploads: Sequence[_Upload],
    *,
    prefix: Sequence[str],
    creating: bool,
) -> None:
    """Discord's checks on a message body: lengths of content, embeds and their parts,
    components, and allowed_mentions; a new message must not be empty."""
    errors = _FormErrors(prefix)
    content = data.get("content")
    if isinstance(content, str) and len(content) > _MAX_CONTENT:
        errors.too_long(["content"], _MAX_CONTENT)
    embeds = data.get("embeds") or []
    if len(embeds) > _MAX_EMBEDS:
        errors.too_long(["embeds"], _MAX_EMBEDS)
    total = 0
    for index, embed in enumerate(embeds):
        for keys, limit in _EMBED_TEXT_LIMITS:
            value: Any = embed
            for key in keys:
                value = value.get(key) if isinstance(value, dict) else None
            text = str(value or "")
            total += len(text)
            if len(text) > limit:
                errors.too_long(["embeds", index, *keys], limit)
        fields = embed.get("fields") or []
        if len(fields) > _MAX_FIELDS:
            errors.too_long(["embeds", index, "fields"], _MAX_FIELDS)
        for position, embed_field in enumerate(fields):
            name, value_text = str(embed_field.get("name", "")), str(embed_field.get("value", ""))
            total += len(name) + len(value_text)
            where: list[str | int] = ["embeds", index, "fields", position]
            if not name or not value_text:
                missing = "name" if not name else "value"
                errors.add([*where, missing], "BASE_TYPE_REQUIRED", "This field is required")
            if len(name) > _MAX_FIELD_NAME:
                errors.too_long([*where, "name"], _MAX_FIELD_NAME)
            if len(value_text) > _MAX_FIELD_VALUE:
                errors.too_long([*where, "value"], _MAX_FIELD_VALUE)
    if total > _MAX_EMBED_TOTAL:
        errors.add(
            ["embeds"],
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {_MAX_EMBED_TOTAL}",
        )
    if not int(data.get("flags") or 0) & _IS_COMPONENTS_V2:
        _check_components(data.get("components") or [], errors)
    allowed = data.get("allowed_mentions")
    if isinstance(allowed, dict):
        for kind in ("users", "roles"):
            if kind in (allowed.get("parse") or []) and allowed.get(kind):
                errors.add(
                    ["allowed_mentions"],
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                )
    errors.raise_if_any()
    has_body = bool(content) or bool(embeds) or bool(data.get("components")) or bool(uploads)
    has_body = has_body or bool(data.get("sticker_ids")) or bool(data.get("poll"))
    if creating and not has_body:
        raise _DiscordError.of(_EMPTY_MESSAGE)


def _check_components(rows: Sequence[Any], errors: _FormErrors) -> None:
    if len(rows) > _MAX_ACTION_ROWS:
        errors.too_long(["components"], _MAX_ACTION_ROWS)
    for index, row in enumerate(rows):
        items = row.get("components") or [] if isinstance(row, dict) else []
        if len(items) > _MAX_ROW_COMPONENTS:
            errors.too_long(["components", index, "components"], _MAX_ROW_COMPONENTS)
        for position, item in enumerate(items):
            where: list[str | int] = ["components", index, "components", position]
            if len(str(item.get("custom_id") or "")) > _MAX_CUSTOM_ID:
                errors.too_long([*where, "custom_id"], _MAX_CUSTOM_ID)
            if len(str(item.get("label") or "")) > _MAX_BUTTON_LABEL:
                errors.too_long([*where, "label"], _MAX_BUTTON_LABEL)


def _parse_mentions(
    content: str, allowed: Any, replied_user: str | None
) -> tuple[list[str], list[str], bool]:
    """Who a message mentions, as Discord parses it: everything when `allowed_mentions` is
    absent; otherwise only the kinds in `parse` and the ids listed. A reply mentions the
    replied-to author unless allowed_mentions says replied_user false."""
    if isinstance(allowed, dict):
        parse = set(allowed.get("parse") or [])
        listed_users = {str(u) for u in allowed.get("users") or []}
        listed_roles = {str(r) for r in allowed.get("roles") or []}
        ping_replied = bool(allowed.get("replied_user", False))
    else:
        parse = {"everyone", "users", "roles"}
        listed_users = listed_roles = set()
        ping_replied = True
    users = [
        u
        for u in dict.fromkeys(_USER_MENTION.findall(content))
        if "users" in parse or u in listed_users
    ]
    if replied_user is not None and ping_replied and replied_user not in users:
        users.append(replied_user)
    roles = [
        r
        for r in dict.fromkeys(_ROLE_MENTION.findall(content))
        if "roles" in parse or r in listed_roles
    ]
    everyone = "everyone" in parse and ("@everyone" in content or "@here" in content)
    return users, roles, everyone


def _as_seen_without_content(data: dict[str, Any]) -> dict[str, Any]:
    """A message as an app without the MESSAGE_CONTENT intent receives it: blank unless the
    app wrote it, it is a DM, or it mentions the app's bot user."""
    mentions = {str(m.get("id")) for m in data.get("mentions") or []}
    author = str((data.get("author") or {}).get("id"))
    if author == BOT_USER_ID or "guild_id" not in data or BOT_USER_ID in mentions:
        return data
    data = copy.deepcopy(data)
    data.update(content="", embeds=[], attachments=[], components=[])
    data.pop("poll", None)
    return data
