"""Where a Discord answer is shown as it arrives: one message, edited as text comes, then
split to the content limit with the sources embed and vote buttons on the last piece."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from bots.discord.format import NO_MENTIONS, content_pieces, safe, sources_embed
from bots.discord.votes import vote_view
from core import Answer

__all__ = ["Send", "StreamedReply"]

# Discord allows 5 edits per 5 s on a channel; one edit a second leaves room for the rest.
_EDIT_INTERVAL_S = 1.0
# While streaming, stop editing before the 2000-character content limit; the complete answer
# is split into several messages at the end.
_STREAM_PREVIEW_LIMIT = 1900

Send = Callable[..., Awaitable[Any]]


class StreamedReply:
    """The answer message: created with the first text, edited at most once a second as
    text arrives, then completed (split to 2000 characters) with the sources and buttons."""

    def __init__(self, first: Send, more: Send) -> None:
        self._first = first
        self._more = more
        self._message: Any = None
        self._text = ""
        self._edited_at = 0.0

    async def add(self, delta: str) -> None:
        self._text += delta
        now = time.monotonic()
        if self._message is None:
            self._message = await self._first(content=safe(self._text) or "…")
            self._edited_at = now
        elif now - self._edited_at >= _EDIT_INTERVAL_S and len(self._text) < _STREAM_PREVIEW_LIMIT:
            await self._message.edit(content=safe(self._text), allowed_mentions=NO_MENTIONS)
            self._edited_at = now

    async def finish(self, answer: Answer, answer_id: str) -> None:
        pieces = content_pieces(answer.text)
        extras: dict[str, Any] = {"view": vote_view(answer_id)}
        embed = sources_embed(answer)
        if embed is not None:
            extras["embed"] = embed
        last = len(pieces) - 1
        for index, piece in enumerate(pieces):
            kwargs = extras if index == last else {}
            if index == 0 and self._message is not None:
                await self._message.edit(content=piece, allowed_mentions=NO_MENTIONS, **kwargs)
            elif index == 0:
                self._message = await self._first(content=piece, **kwargs)
            else:
                await self._more(content=piece, **kwargs)

    def thread(self) -> str | None:
        return str(self._message.id) if self._message is not None else None

    async def fail(self, text: str) -> None:
        """End with a short, friendly error after whatever was already shown."""
        if self._message is None:
            await self._first(content=safe(text))
            return
        shown = safe(self._text)[: _STREAM_PREVIEW_LIMIT - len(text) - 2]
        await self._message.edit(content=f"{shown}\n\n{safe(text)}", allowed_mentions=NO_MENTIONS)
