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

from bots.cooldown import Cooldown
from bots.dedup import RecentKeys
from bots.discord_format import NO_MENTIONS, content_pieces, safe, sources_embed
from core.errors import HelpbotError
from core.feedback import FeedbackStore, Vote
from core.messages import detect_language, message
from core.models import Answer, Origin, Query, Turn
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
_NOT_ENABLED = "helpbot is not enabled here."


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
        if isinstance(client, DiscordBot):
            await client.feedback.vote(self.answer_id, str(interaction.user.id), self.vote)
        await interaction.response.send_message(
            "Thanks for the feedback!" if self.vote == "up" else "Thanks, noted.",
            ephemeral=True,
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
        feedback: FeedbackStore,
        **client_options: Any,
    ) -> None:
        intents = discord.Intents.default()
        # Mentions and DMs carry their text without the privileged Message Content intent.
        intents.message_content = settings.discord_message_content_intent
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS, **client_options)
        self.settings = settings
        self.service = service
        self.feedback = feedback
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = self._on_command_error  # type: ignore[method-assign]
        self._cooldown = Cooldown(settings.discord_cooldown_s)
        self._recent = RecentKeys()
        self.tree.add_command(
            app_commands.Command(
                name="ask",
                description="Ask the team's docs a question",
                callback=self._ask,
            )
        )

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
        if not self._allowed(interaction.guild_id, interaction.channel_id):
            await interaction.response.send_message(_NOT_ENABLED, ephemeral=True)
            return
        wait = self._cooldown.retry_after(str(interaction.user.id))
        if wait:
            await interaction.response.send_message(_cooldown_text(wait), ephemeral=True)
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
        await self._answer(Query(question, origin=origin), reply)

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

    async def on_message(self, message_: discord.Message) -> None:
        if message_.author.bot or self.user is None:
            return
        is_dm = message_.guild is None
        if is_dm and not self.settings.discord_allow_dms:
            return
        if not is_dm and self.user not in message_.mentions:
            return
        if not self._allowed(message_.guild.id if message_.guild else None, message_.channel.id):
            return
        if not self._recent.claim(f"message:{message_.id}"):
            return
        wait = self._cooldown.retry_after(str(message_.author.id))
        if wait:
            await message_.reply(_cooldown_text(wait), mention_author=False)
            return
        text = _MENTION.sub("", message_.content).strip()
        history = await self._thread_history(message_)
        target: discord.abc.Messageable = message_.channel
        if (
            self.settings.discord_answer_in_thread
            and not is_dm
            and not isinstance(message_.channel, discord.Thread)
        ):
            target = await message_.create_thread(name=(text or "question")[:90])
        origin = Origin(
            "discord",
            _id(message_.guild.id if message_.guild else None),
            str(message_.channel.id),
            str(message_.author.id),
        )
        reply = _StreamedReply(
            first=(
                (lambda **kw: message_.reply(mention_author=False, **kw))
                if target is message_.channel
                else target.send
            ),
            more=target.send,
        )
        await self._answer(Query(text, history=history, origin=origin), reply)

    async def _thread_history(self, message_: discord.Message) -> tuple[Turn, ...]:
        """Earlier messages of the thread the question is in, oldest first. Without the
        Message Content intent, other people's messages arrive empty and are skipped."""
        thread = message_.channel
        if not isinstance(thread, discord.Thread):
            return ()
        items = [
            item async for item in thread.history(limit=_THREAD_HISTORY_LIMIT, before=message_)
        ]
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

    async def _answer(self, query: Query, reply: _StreamedReply) -> None:
        language = detect_language(query.text)
        try:
            answer: Answer | None = None
            async for event in self.service.stream(query):
                if isinstance(event, Answer):
                    answer = event
                else:
                    await reply.add(event)
            assert answer is not None
            answer_id = await self.feedback.save_answer(query, answer)
            await reply.finish(answer, answer_id)
        except HelpbotError as exc:
            log.warning("could not answer on Discord: %s", exc)
            await reply.fail(exc.user_message(language))
        except Exception:
            log.exception("unexpected failure answering on Discord")
            await reply.fail(message("internal_error", language))

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


def _cooldown_text(wait: float) -> str:
    return f"Please wait {math.ceil(wait)} s before asking again."


def _id(value: int | None) -> str | None:
    return str(value) if value is not None else None
