"""Which knowledge bases a Slack question may search: none outside SLACK_ALLOWED_CHANNELS (when
set), else the routing file's rule for its channel, narrowed for Slack Connect (externally
shared) channels and guest users. The one access decision of the Slack adapter.

Slack says whether a channel is shared (`conversations.info`, or the event's own flag) and
whether a user is a guest (`users.info`, needs the `users:read` scope); each answer is cached
for a while. They are asked only when the routing file gives those places a narrower scope,
and when Slack cannot answer the narrower scope applies: access fails closed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from core import Place, Routing

__all__ = ["SlackAccess"]

log = logging.getLogger(__name__)

_CACHE_S = 600.0


class SlackAccess:
    """The scope of a question from a channel and user, as the routing file allows."""

    def __init__(
        self, client: AsyncWebClient, routing: Routing, allowed_channels: tuple[str, ...] = ()
    ) -> None:
        self._client = client
        self._routing = routing
        self._allowed_channels = allowed_channels
        self._shared: dict[str, tuple[float, bool]] = {}
        self._guests: dict[str, tuple[float, bool]] = {}

    async def scope(
        self, channel: str, user: str, direct: bool, shared: bool | None = None
    ) -> tuple[str, ...]:
        """`shared`: the event's own "externally shared" flag, when it carried one."""
        if not self.allows(channel):
            return ()
        place = Place("slack", channel=channel, direct=direct)
        scope = self._routing.scope(place)
        if direct or not scope:
            return scope
        external = replace(place, external=True)
        if self._routing.scope(external) != scope:
            if shared is None:
                shared = await self._cached(self._shared, channel, self._is_shared)
            if shared:
                place = external
        guest = replace(place, guest=True)
        if self._routing.scope(guest) != self._routing.scope(place) and await self._cached(
            self._guests, user, self._is_guest
        ):
            place = guest
        return self._routing.scope(place)

    def allows(self, channel: str) -> bool:
        """Whether the bot may answer in this channel at all (SLACK_ALLOWED_CHANNELS)."""
        return not self._allowed_channels or channel in self._allowed_channels

    async def _cached(
        self,
        cache: dict[str, tuple[float, bool]],
        key: str,
        lookup: Callable[[str], Awaitable[bool]],
    ) -> bool:
        now = time.monotonic()
        hit = cache.get(key)
        if hit is not None and now - hit[0] < _CACHE_S:
            return hit[1]
        value = await lookup(key)
        cache[key] = (now, value)
        return value

    async def _is_shared(self, channel: str) -> bool:
        try:
            response = await self._client.conversations_info(channel=channel)
        except (SlackApiError, SlackRequestError) as exc:
            log.warning(
                "cannot tell whether %s is shared, so it counts as external: %s", channel, exc
            )
            return True
        info = response.get("channel") or {}
        # Slack Connect; a channel shared inside one Enterprise Grid org is not external.
        return bool(info.get("is_ext_shared") or info.get("is_pending_ext_shared"))

    async def _is_guest(self, user: str) -> bool:
        try:
            response = await self._client.users_info(user=user)
        except (SlackApiError, SlackRequestError) as exc:
            log.warning("cannot tell whether %s is a guest, treating them as one: %s", user, exc)
            return True
        info = response.get("user") or {}
        return bool(info.get("is_restricted") or info.get("is_ultra_restricted"))
