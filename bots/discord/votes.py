"""The 👍 / 👎 buttons under an answer, which keep working after the bot restarts, and the
optional reason a 👎 is asked for (buttons only the voter sees)."""

from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable

import discord

from core import DOWN_REASONS, Vote, message

__all__ = ["ReasonButton", "VoteButton", "VoteRecorder", "vote_view"]


@runtime_checkable
class VoteRecorder(Protocol):
    """The client a vote is recorded by (the Discord bot)."""

    async def record_vote(
        self, answer_id: str, voter: str, vote: Vote, reason: str | None = None
    ) -> bool: ...


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
        recorded = isinstance(client, VoteRecorder) and await client.record_vote(
            self.answer_id, str(interaction.user.id), self.vote
        )
        language = _language(interaction)
        if recorded and self.vote == "down":
            await interaction.response.send_message(
                message("down_reason_prompt", language),
                view=_reason_view(self.answer_id, language),
                ephemeral=True,
            )
            return
        await interaction.response.send_message(
            message(f"vote_{self.vote}" if recorded else "vote_unknown", language), ephemeral=True
        )


class ReasonButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=rf"helpbot:reason:(?P<reason>{'|'.join(DOWN_REASONS)}):(?P<answer>[0-9a-f]{{32}})",
):
    """Why a 👎: completes the voter's 👎 with its reason (works after a restart too)."""

    def __init__(self, reason: str, answer_id: str, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                label=label or reason,
                custom_id=f"helpbot:reason:{reason}:{answer_id}",
            )
        )
        self.reason = reason
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ReasonButton:
        return cls(match["reason"], match["answer"])

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        recorded = isinstance(client, VoteRecorder) and await client.record_vote(
            self.answer_id, str(interaction.user.id), "down", self.reason
        )
        language = _language(interaction)
        await interaction.response.send_message(
            message("reason_thanks" if recorded else "vote_unknown", language), ephemeral=True
        )


def _reason_view(answer_id: str, language: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for reason in DOWN_REASONS:
        view.add_item(ReasonButton(reason, answer_id, message(f"reason_{reason}", language)))
    return view


def _language(interaction: discord.Interaction) -> str:
    """The voter's Discord language ("pt-BR" -> "pt"): fixed strings fall back to English."""
    return str(interaction.locale.value).split("-")[0]


def vote_view(answer_id: str) -> discord.ui.View:
    """The two buttons, with no timeout: they work for as long as the answer is kept."""
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton("up", answer_id))
    view.add_item(VoteButton("down", answer_id))
    return view
