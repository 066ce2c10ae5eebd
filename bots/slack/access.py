"""Which knowledge bases a Slack question may search: none outside SLACK_ALLOWED_CHANNELS (when
set), else the routing file's rule for its channel, narrowed for Slack Connect (externally
shared) channels and guest users; a DM or a group DM gets the `dm` rule. The one access
decision of the Slack adapter.

Slack says whether a channel is shared (`conversations.info`, or the event's own flag), whether
a conversation is a group DM (the payload, else `conversations.info`) and whether a user is a
guest (`users.info`, needs the `users:read` scope); each answer is cached for a while. They
are asked only when the routing file gives those places another scope, and when Slack cannot
answer the narrower scope applies: access fails closed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from core import Place, Routing

__all__ = ["SlackAccess", "is_direct"]

log = logging.getLogger(__name__)

_CACHE_S = 600.0
T = TypeVar("T")


def is_direct(
    channel: str, channel_type: str | None = None, channel_name: str | None = None
) -> bool | None:
    """Whether a conversation is a DM or a group DM, from what the payload says: message
    events carry `channel_type` ("im", "mpim"), slash commands `channel_name`
    ("directmessage", "mpdm-..."); None when it says nothing (an app_mention has no
    channel_type, and a group DM's id may start with C or G like a channel's)."""
    if channel.startswith("D") or channel_type in ("im", "mpim"):
        return True
    if channel_name is not None:
        return channel_name == "directmessage" or channel_name.startswith("mpdm-")
    return False if channel_type is not None else None


class SlackAccess:
    """The scope of a question from a channel and user, as the routing file allows."""

    def __init__(
        self, client: AsyncWebClient, routing: Routing, allowed_channels: tuple[str, ...] = ()
    ) -> None:
        self._client = client
        self._routing = routing
        self._allowed_channels = allowed_channels
        self._channels: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._guests: dict[str, tuple[float, bool]] = {}

    def use_routing(self, routing: Routing) -> None:
        """Apply a reloaded routing file to the next question."""
        self._routing = routing

    async def scope(
        self, channel: str, user: str, direct: bool | None, shared: bool | None = None
    ) -> tuple[str, ...]:
        """`direct`: `is_direct` of the payload (None: ask Slack when it matters); `shared`:
        the event's own "externally shared" flag, when it carried one."""
        if not self.allows(channel):
            return ()
        place = Place("slack", channel=channel)
        as_dm = self._routing.scope(replace(place, direct=True))
        if direct:
            return as_dm
        as_channel = await self._channel_scope(place, user, shared)
        if direct is None and as_dm != as_channel:
            info = await self._channel_info(channel)
            if info is None:
                # Slack could not say whether this is a group DM: what both rules allow.
                return tuple(kb for kb in as_channel if kb in as_dm)
            if info.get("is_im") or info.get("is_mpim"):
                return as_dm
        return as_channel

    def allows(self, channel: str) -> bool:
        """Whether the bot may answer in this channel at all (SLACK_ALLOWED_CHANNELS)."""
        return not self._allowed_channels or channel in self._allowed_channels

    async def _channel_scope(self, place: Place, user: str, shared: bool | None) -> tuple[str, ...]:
        scope = self._routing.scope(place)
        if not scope:
            return scope
        external = replace(place, external=True)
        if self._routing.scope(external) != scope:
            if shared is None:
                info = await self._channel_info(place.channel or "")
                # Unknown counts as shared with another organisation: the narrower scope.
                shared = info is None or bool(
                    # Slack Connect; a channel shared inside one Enterprise Grid org is not
                    # external.
                    info.get("is_ext_shared") or info.get("is_pending_ext_shared")
                )
            if shared:
                place = external
        guest = replace(place, guest=True)
        if self._routing.scope(guest) != self._routing.scope(place) and await self._cached(
            self._guests, user, self._is_guest
        ):
            place = guest
        return self._routing.scope(place)

    async def _cached(
        self,
        cache: dict[str, tuple[float, T]],
        key: str,
        lookup: Callable[[str], Awaitable[T]],
    ) -> T:
        now = time.monotonic()
        hit = cache.get(key)
        if hit is not None and now - hit[0] < _CACHE_S:
            return hit[1]
        value = await lookup(key)
        cache[key] = (now, value)
        return value

    async def _channel_info(self, channel: str) -> dict[str, Any] | None:
        """`conversations.info` of a channel, cached; None when Slack cannot say."""
        return await self._cached(self._channels, channel, self._read_channel_info)

    async def _read_channel_info(self, channel: str) -> dict[str, Any] | None:
        try:
            response = await self._client.conversations_info(channel=channel)
        except (SlackApiError, SlackRequestError) as exc:
            log.warning("cannot tell what %s is, so it gets the narrower scope: %s", channel, exc)
            return None
        return dict(response.get("channel") or {})

    async def _is_guest(self, user: str) -> bool:
        try:
            response = await self._client.users_info(user=user)
        except (SlackApiError, SlackRequestError) as exc:
            log.warning("cannot tell whether %s is a guest, treating them as one: %s", user, exc)
            return True
        info = response.get("user") or {}
        return bool(info.get("is_restricted") or info.get("is_ultra_restricted"))
