"""The Discord adapter: `/ask`, @mentions, DMs and replies in the bot's threads become core
calls; the answer streams into a message that is edited as text arrives, then gets its
sources embed and vote buttons. It holds no RAG logic."""

from __future__ import annotations

import logging
import math
from typing import Any

import discord
from discord import app_commands

from bots.answering import InFlight, answer_into, log_not_enabled
from bots.discord.access import DiscordAccess
from bots.discord.format import NO_MENTIONS, plain_text
from bots.discord.history import ThreadConversation, read_thread
from bots.discord.replies import Send, StreamedReply
from bots.discord.settings import DiscordSettings
from bots.discord.votes import ReasonButton, VoteButton
from bots.ops.metrics import Metrics
from bots.state.shared import SharedState
from core import AnswerLog, Origin, Query, RagService, Routing, Vote, detect_language, message

__all__ = ["DiscordBot"]

log = logging.getLogger(__name__)


class DiscordBot(discord.Client):
    """A `discord.Client` with the `/ask` command tree and the mention handler."""

    def __init__(
        self,
        settings: DiscordSettings,
        service: RagService,
        answer_log: AnswerLog,
        metrics: Metrics | None = None,
        state: SharedState | None = None,
        routing: Routing | None = None,
        **client_options: Any,
    ) -> None:
        intents = discord.Intents.default()
        # Mentions and DMs carry their text without the privileged Message Content intent;
        # it is asked for only when set, as Discord refuses it unless the portal grants it.
        intents.message_content = settings.discord_message_content_intent
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS, **client_options)
        self.settings = settings
        self.service = service
        self.answer_log = answer_log
        self.metrics = metrics or Metrics()
        self.tree = app_commands.CommandTree(self)
        self.tree.error(self._on_command_error)
        state = state or SharedState()
        self._rate_limiter = state.rate_limiter("discord", settings.discord_cooldown_s)
        self._budget = state.channel_budget(
            "discord", settings.discord_channel_questions_per_minute
        )
        self._deduplicator = state.event_deduplicator("discord")
        self._access = DiscordAccess(
            settings, routing or Routing.everywhere(service.default_knowledge_base)
        )
        self._inflight = InFlight()
        self.tree.add_command(
            app_commands.Command(
                name="ask",
                description="Ask the team's docs a question",
                callback=self._ask,
            )
        )

    async def record_vote(
        self, answer_id: str, voter: str, vote: Vote, reason: str | None = None
    ) -> bool:
        """Record a 👍 / 👎 (a 👎's reason when given) from a button; False when the answer
        is unknown (purged, or from another answer log)."""
        recorded = await self.answer_log.vote(answer_id, voter, vote, reason)
        if recorded and reason is None:
            self.metrics.vote("discord", vote)
        return recorded

    def use_routing(self, routing: Routing) -> None:
        """Apply a reloaded routing file to the next question (answers in flight keep theirs)."""
        self._access.use_routing(routing)

    async def drain(self, seconds: float) -> None:
        """Start no new answers; let those in progress finish for up to `seconds`."""
        await self._inflight.drain(seconds)

    async def close(self) -> None:
        """Cancel answers in progress, then disconnect."""
        await self._inflight.cancel_all()
        await super().close()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(VoteButton, ReasonButton)
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
        scope = self._access.scope(
            interaction.guild_id, interaction.channel, interaction.channel_id
        )
        if not scope:
            await interaction.response.send_message(
                message("not_enabled", language), ephemeral=True
            )
            origin = Origin("discord", _id(interaction.guild_id), _id(interaction.channel_id))
            await log_not_enabled(self.answer_log, Query(question, origin=origin))
            return
        if not self._inflight.accepting:  # shutting down: say so rather than think forever
            await interaction.response.send_message(message("restarting", language), ephemeral=True)
            return
        wait = await self._wait_needed(str(interaction.user.id), interaction.channel_id)
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
        reply = StreamedReply(
            first=lambda **kw: followup.send(wait=True, allowed_mentions=NO_MENTIONS, **kw),
            more=lambda **kw: followup.send(wait=True, allowed_mentions=NO_MENTIONS, **kw),
        )
        await self._inflight.run(
            answer_into(
                self.service,
                self.answer_log,
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

    # --- @mentions, DMs and replies in the bot's threads -----------------------------------

    async def on_message(self, incoming: discord.Message) -> None:
        if incoming.author.bot or self.user is None:
            return
        guild_id = incoming.guild.id if incoming.guild else None
        # In guilds mentions are questions, and so are replies in the bot's threads when the
        # Message Content intent lets their text through; every DM is one.
        asked = guild_id is None or self.user in incoming.mentions
        text = plain_text(incoming.content)
        if not asked and not (text and self._may_follow_up(incoming)):
            return
        scope = self._access.scope(guild_id, incoming.channel, incoming.channel.id)
        if not scope:
            if asked:
                place = Origin("discord", _id(guild_id), str(incoming.channel.id))
                await log_not_enabled(self.answer_log, Query(text, origin=place))
            return
        if not await self._deduplicator.claim(f"message:{incoming.id}"):
            self.metrics.duplicate_events.labels("discord").inc()
            return
        conversation = (
            await read_thread(incoming.channel, incoming, self.user)
            if isinstance(incoming.channel, discord.Thread)
            else ThreadConversation()
        )
        if not asked and not conversation.bot_took_part:
            return
        if not self._inflight.accepting:  # shutting down: Discord will not send it again
            await _reply_to(incoming)(content=message("restarting", detect_language(text)))
            return
        wait = await self._wait_needed(str(incoming.author.id), incoming.channel.id)
        if wait:
            await _reply_to(incoming)(
                content=message("cooldown", detect_language(text), seconds=math.ceil(wait))
            )
            return
        target = await self._answer_target(incoming, text)
        origin = Origin(
            "discord",
            _id(guild_id),
            str(incoming.channel.id),
            str(incoming.author.id),
            thread=str(incoming.id),  # a notice later replies to the question
        )
        reply = StreamedReply(
            first=_reply_to(incoming) if target is incoming.channel else target.send,
            more=target.send,
        )
        query = Query(text, history=conversation.turns, origin=origin, knowledge_bases=scope)
        await self._inflight.run(
            answer_into(self.service, self.answer_log, query, reply, self.metrics)
        )

    async def _wait_needed(self, user: str, channel: int | None) -> float:
        """Seconds before this question may be answered (the asker's cooldown, else the
        channel's budget); 0 when it counts and is answered now."""
        return await self._rate_limiter.retry_after(user) or await self._budget.retry_after(
            str(channel)
        )

    def _may_follow_up(self, incoming: discord.Message) -> bool:
        """A message in a thread that may continue a conversation with the bot: typed text
        (not a system message) that addresses no one else."""
        return (
            self.settings.discord_message_content_intent
            and isinstance(incoming.channel, discord.Thread)
            and incoming.type in (discord.MessageType.default, discord.MessageType.reply)
            and not (incoming.mentions or incoming.role_mentions or incoming.mention_everyone)
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


def _reply_to(incoming: discord.Message) -> Send:
    """Send as a reply to `incoming` without pinging its author; if it was deleted
    meanwhile, as a plain message rather than an error."""
    reference = incoming.to_reference(fail_if_not_exists=False)
    return lambda **kw: incoming.channel.send(reference=reference, mention_author=False, **kw)


def _id(value: int | None) -> str | None:
    return str(value) if value is not None else None
