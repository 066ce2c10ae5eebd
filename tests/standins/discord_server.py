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
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import discord
import discord.gateway
import discord.http
import discord.webhook.async_
import yarl
from aiohttp import WSCloseCode, web

from tests.standins.discord_gateway import Gateway
from tests.standins.discord_interactions import InteractionRoutes
from tests.standins.discord_payloads import (
    APPLICATION_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    EPHEMERAL,
    GUILD_ID,
    MESSAGE_CONTENT,
    USER_ID,
    button_click,
    message_create,
    slash_command,
    text_channel,
)
from tests.standins.discord_protocol import (
    _HEARTBEAT_INTERVAL_MS,
    _RECONNECT,
    _SHUTDOWN_GRACE_S,
    API_PREFIX,
    GATEWAY_PATH,
    RecordedCall,
    _Answer,
    _DiscordError,
    _Failure,
    _failure_answer,
    _Interaction,
    _json_response,
    _read_body,
    _Request,
    _resolve,
    _response_for,
    _Route,
    _selects,
)
from tests.standins.discord_rest import RestRoutes
from tests.standins.local_server import serve


class DiscordStandIn(RestRoutes, InteractionRoutes, Gateway):
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
