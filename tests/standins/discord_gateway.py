"""The Discord stand-in's gateway: HELLO, IDENTIFY, READY, heartbeats, RESUME and the
dispatches it sends, recorded in the timeline (a mixin of `DiscordStandIn`)."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import WSMsgType, web

from tests.standins.discord_payloads import (
    DIRECT_MESSAGES,
    GUILD_ID,
    GUILD_MEMBERS,
    GUILD_MESSAGES,
    GUILDS,
    MESSAGE_CONTENT,
    OTHER_USER_ID,
    PRIVILEGED_INTENTS,
    USER_ID,
    bot_member,
    dm_channel,
    guild_create,
    member,
    ready,
)
from tests.standins.discord_protocol import (
    _DISPATCH,
    _HEARTBEAT,
    _HEARTBEAT_ACK,
    _HELLO,
    _IDENTIFY,
    _INVALID_SESSION,
    _PRESENCE,
    _REQUEST_MEMBERS,
    _RESUME,
    _WS_CLOSE_TIMEOUT_S,
    _as_seen_without_content,
    _Interaction,
)


class Gateway:
    """The WebSocket side: sessions, heartbeats and dispatches."""

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
                data = _as_seen_without_content(data, in_guild="guild_id" in data)
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
