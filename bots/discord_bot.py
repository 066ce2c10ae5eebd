"""The Discord adapter: `/ask`, @mentions and DMs become core calls; the answer streams into
a message that is edited as text arrives, then gets its sources embed and vote buttons. It
holds no RAG logic."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

from bots.answering import InFlight, answer_into
from bots.discord_format import NO_MENTIONS, content_pieces, safe, sources_embed
from bots.metrics import Metrics
from bots.shared_state import SharedState
from core.feedback import Feedback, Vote
from core.messages import detect_language, message
from core.models import Answer, Origin, Query, Turn
from core.routing import Place, Routing, load_routing
from core.service import RagService
from core.settings import Settings

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@!?\d+>")
# Discord allows 5 edits per 5 s on a channel; one edit a second leaves room for the rest.
_EDIT_INTERVAL_S = 1.0
# While streaming, stop editing before the 2000-character content limit; the complete answer
# is split into several messages at the end.
_STREAM_PREVIEW_LIMIT = 1900
_THREAD_HISTORY_LIMIT = 20


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"helpbot:vote:(?P<vote>up|down):(?P<answer>[0-9a-f]{32})",
):
    """👍 / 👎 under an answer; the custom id carries the vote and the answer's id, so the
    buttons keep working after a restart."""

    def __init__(self, vote: Vote, answer_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                emoji="👍" if vote == "up" else "👎",
                custom_id=f"helpbot:vote:{vote}:{answer_id}",
            )
        )
        self.vote: Vote = vote
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        return cls("up" if match["vote"] == "up" else "down", match["answer"])

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        recorded = isinstance(client, DiscordBot) and await client.feedback.vote(
            self.answer_id, str(interaction.user.id), self.vote
        )
        if recorded and isinstance(client, DiscordBot):
            client.metrics.vote("discord", self.vote)
        await interaction.response.send_message(
            message(f"vote_{self.vote}" if recorded else "vote_unknown"), ephemeral=True
        )


def vote_view(answer_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton("up", answer_id))
    view.add_item(VoteButton("down", answer_id))
    return view


class DiscordBot(discord.Client):
    """A `discord.Client` with the `/ask` command tree and the mention handler."""

    def __init__(
        self,
        settings: Settings,
        service: RagService,
        feedback: Feedback,
        metrics: Metrics | None = None,
        state: SharedState | None = None,
        routing: Routing | None = None,
        **client_options: Any,
    ) -> None:
        intents = discord.Intents.default()
        # Mentions and DMs carry their text without the privileged Message Content intent.
        intents.message_content = settings.discord_message_content_intent
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS, **client_options)
        self.settings = settings
        self.service = service
        self.feedback = feedback
        self.metrics = metrics or Metrics()
        self.tree = app_commands.CommandTree(self)
        self.tree.error(self._on_command_error)
        state = state or SharedState()
        self._cooldown = state.rate_limit("discord", settings.discord_cooldown_s)
        self._recent = state.event_memory("discord")
        self._routing = routing or load_routing(settings)
        self._inflight = InFlight()
        self.tree.add_command(
            app_commands.Command(
                name="ask",
                description="Ask the team's docs a question",
                callback=self._ask,
            )
        )

    async def close(self) -> None:
        """Cancel answers in progress, then disconnect."""
        await self._inflight.cancel_all()
        await super().close()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(VoteButton)
        if self.settings.discord_guild_id:
            guild = discord.Object(id=self.settings.discord_guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    # --- /ask -----------------------------------------------------------------------------

    @app_commands.describe(question="What do you want to know?")
    async def _ask(self, interaction: discord.Interaction, question: str) -> None:
        language = detect_language(question)
        scope = self._scope(interaction.guild_id, interaction.channel, interaction.channel_id)
        if not self._allowed(interaction.guild_id, interaction.channel_id) or not scope:
            await interaction.response.send_message(
                message("not_enabled", language), ephemeral=True
            )
            return
        wait = await self._cooldown.retry_after(str(interaction.user.id))
        if wait:
            await interaction.response.send_message(
                message("cooldown", language, seconds=math.ceil(wait)), ephemeral=True
            )
            return
        # Defer first: Discord's 3 s window closes long before retrieval and the model finish.
        await interaction.response.defer(thinking=True)
        origin = Origin(
            "discord",
            _id(interaction.guild_id),
            _id(interaction.channel_id),
            str(interaction.user.id),
        )
        followup = interaction.followup
        reply = _StreamedReply(
            first=lambda **kw: followup.send(wait=True, allowed_mentions=NO_MENTIONS, **kw),
            more=lambda **kw: followup.send(wait=True, allowed_mentions=NO_MENTIONS, **kw),
        )
        await self._inflight.run(
            answer_into(
                self.service,
                self.feedback,
                Query(question, origin=origin, knowledge_bases=scope),
                reply,
                self.metrics,
            )
        )

    async def _on_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        log.error("/ask failed: %s", error, exc_info=error)
        text = message("internal_error")
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(text, ephemeral=True)

    # --- @mentions and DMs ----------------------------------------------------------------

    async def on_message(self, incoming: discord.Message) -> None:
        if incoming.author.bot or self.user is None:
            return
        guild_id = incoming.guild.id if incoming.guild else None
        if guild_id is not None and self.user not in incoming.mentions:
            return  # in guilds only mentions are questions; every DM is one
        scope = self._scope(guild_id, incoming.channel, incoming.channel.id)
        if not self._allowed(guild_id, incoming.channel.id) or not scope:
            return
        if not await self._recent.claim(f"message:{incoming.id}"):
            self.metrics.duplicate_events.labels("discord").inc()
            return
        text = _MENTION.sub("", incoming.content).strip()
        wait = await self._cooldown.retry_after(str(incoming.author.id))
        if wait:
            await _reply_to(incoming)(
                content=message("cooldown", detect_language(text), seconds=math.ceil(wait))
            )
            return
        history = await self._thread_history(incoming)
        target = await self._answer_target(incoming, text)
        origin = Origin("discord", _id(guild_id), str(incoming.channel.id), str(incoming.author.id))
        reply = _StreamedReply(
            first=_reply_to(incoming) if target is incoming.channel else target.send,
            more=target.send,
        )
        query = Query(text, history=history, origin=origin, knowledge_bases=scope)
        await self._inflight.run(
            answer_into(self.service, self.feedback, query, reply, self.metrics)
        )

    async def _answer_target(self, incoming: discord.Message, text: str) -> Any:
        """Where to answer: a new thread on the question when configured and allowed, else
        the question's own channel (also when the bot may not create threads there)."""
        if (
            not self.settings.discord_answer_in_thread
            or incoming.guild is None
            or isinstance(incoming.channel, discord.Thread)
        ):
            return incoming.channel
        try:
            return await incoming.create_thread(name=(text or "question")[:90])
        except discord.HTTPException as exc:
            log.warning("could not open a thread, answering in the channel: %s", exc)
            return incoming.channel

    async def _thread_history(self, incoming: discord.Message) -> tuple[Turn, ...]:
        """Earlier messages of the thread the question is in, oldest first. Without the
        Message Content intent, other people's messages arrive empty and are skipped."""
        thread = incoming.channel
        if not isinstance(thread, discord.Thread):
            return ()
        try:
            items = [
                item async for item in thread.history(limit=_THREAD_HISTORY_LIMIT, before=incoming)
            ]
        except discord.HTTPException as exc:  # no Read Message History permission
            log.warning("could not read the thread's history: %s", exc)
            items = []
        # A thread opened on a question starts with that message, which lives in the parent
        # channel rather than in the thread's own history.
        starter = thread.starter_message or await self._fetch_starter(thread)
        if starter is not None and len(items) < _THREAD_HISTORY_LIMIT:
            items.append(starter)
        turns = []
        for item in reversed(items):
            text = _MENTION.sub("", item.content).strip()
            if text:
                turns.append(Turn("assistant" if item.author == self.user else "user", text))
        return tuple(turns)

    async def _fetch_starter(self, thread: discord.Thread) -> discord.Message | None:
        if thread.parent is None or not isinstance(thread.parent, discord.TextChannel):
            return None
        try:
            return await thread.parent.fetch_message(thread.id)
        except discord.HTTPException:
            return None  # a thread not started from a message, or no permission to read it

    # --- shared ---------------------------------------------------------------------------

    def _scope(
        self, guild_id: int | None, channel: object, channel_id: int | None
    ) -> tuple[str, ...]:
        """The knowledge bases the routing file allows here; a thread follows its channel."""
        if isinstance(channel, discord.Thread):
            channel_id = channel.parent_id
        place = Place("discord", _id(channel_id), _id(guild_id), direct=guild_id is None)
        return self._routing.scope(place)

    def _allowed(self, guild_id: int | None, channel_id: int | None) -> bool:
        settings = self.settings
        if guild_id is None:
            return settings.discord_allow_dms
        if settings.discord_allowed_guilds and guild_id not in settings.discord_allowed_guilds:
            return False
        return not settings.discord_allowed_channels or (
            channel_id in settings.discord_allowed_channels
        )


Send = Callable[..., Awaitable[Any]]


class _StreamedReply:
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

    async def fail(self, text: str) -> None:
        """End with a short, friendly error after whatever was already shown."""
        if self._message is None:
            await self._first(content=safe(text))
            return
        shown = safe(self._text)[: _STREAM_PREVIEW_LIMIT - len(text) - 2]
        await self._message.edit(content=f"{shown}\n\n{safe(text)}", allowed_mentions=NO_MENTIONS)


def _reply_to(incoming: discord.Message) -> Send:
    """Send as a reply to `incoming` without pinging its author; if it was deleted
    meanwhile, as a plain message rather than an error."""
    reference = incoming.to_reference(fail_if_not_exists=False)
    return lambda **kw: incoming.channel.send(reference=reference, mention_author=False, **kw)


def _id(value: int | None) -> str | None:
    return str(value) if value is not None else None
