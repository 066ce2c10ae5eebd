"""A Discord thread read back as the conversation before a message: one page of history, with
the bot's split answers joined into one turn each. The core then keeps what the model sees to
HISTORY_TURNS exchanges and HISTORY_MAX_CHARS characters."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import discord

from bots.discord.format import plain_text
from core import Turn

__all__ = ["ThreadConversation", "read_thread"]

log = logging.getLogger(__name__)

# Messages read back: one request (Discord returns at most 100), more than the core keeps
# at its default HISTORY_TURNS.
_HISTORY_MESSAGES = 20


@dataclass(frozen=True)
class ThreadConversation:
    """The turns before a message in a thread, and whether the bot opened or spoke in it
    (which makes a reply there a follow-up)."""

    turns: tuple[Turn, ...] = ()
    bot_took_part: bool = False


async def read_thread(
    thread: discord.Thread, before: discord.Message, me: discord.abc.Snowflake
) -> ThreadConversation:
    """The thread's messages before `before`, oldest first. Without the Message Content
    intent, other people's messages read back empty and are skipped."""
    try:
        items = [item async for item in thread.history(limit=_HISTORY_MESSAGES, before=before)]
    except discord.HTTPException as exc:  # no Read Message History permission
        log.warning("could not read the thread's history: %s", exc)
        items = []
    # A thread opened on a question starts with that message, which lives in the parent
    # channel rather than in the thread's own history.
    starter = thread.starter_message or await _fetch_starter(thread)
    if starter is not None and len(items) < _HISTORY_MESSAGES:
        items.append(starter)
    turns: list[Turn] = []
    for item in reversed(items):
        text = plain_text(item.content)
        mine = item.author.id == me.id
        if not text:
            continue
        if mine and turns and turns[-1].role == "assistant":
            # One answer split over several 2000-character messages is one turn.
            turns[-1] = Turn("assistant", f"{turns[-1].text}\n{text}")
        else:
            turns.append(Turn("assistant" if mine else "user", text))
    took_part = thread.owner_id == me.id or any(item.author.id == me.id for item in items)
    return ThreadConversation(tuple(turns), took_part)


async def _fetch_starter(thread: discord.Thread) -> discord.Message | None:
    if thread.parent is None or not isinstance(thread.parent, discord.TextChannel):
        return None
    try:
        return await thread.parent.fetch_message(thread.id)
    except discord.HTTPException:
        return None  # a thread not started from a message, or no permission to read it
