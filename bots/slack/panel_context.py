"""The assistant panel's context: which channel the user was viewing when they opened the
panel or moved (assistant_thread_started, assistant_thread_context_changed). Slack sends it
only with those events, not with the questions that follow, so bolt keeps it in a store;
this one is the bot's shared conversation memory (Redis when configured)."""

from __future__ import annotations

import json

from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.async_store import (
    AsyncAssistantThreadContextStore,
)

from bots.state.conversation_memory import ConversationMemory

__all__ = ["PanelContextStore"]


class PanelContextStore(AsyncAssistantThreadContextStore):
    """Bolt's thread context store, kept in the conversation memory."""

    def __init__(self, memory: ConversationMemory) -> None:
        self._memory = memory

    async def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        """Remember the context of the panel thread `thread_ts` in DM `channel_id`."""
        await self._memory.remember(_key(channel_id, thread_ts), json.dumps(context))

    async def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        """The context last saved for that panel thread, if still remembered."""
        saved = await self._memory.recall(_key(channel_id, thread_ts))
        if saved is None:
            return None
        context = json.loads(saved)
        return AssistantThreadContext(context) if context.get("channel_id") else None


def _key(channel_id: str, thread_ts: str) -> str:
    return f"panel:{channel_id}:{thread_ts}"
