"""The 👍 / 👎 buttons under an answer, which keep working after the bot restarts."""

from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable

import discord

from core import Vote, message

__all__ = ["VoteButton", "VoteRecorder", "vote_view"]


@runtime_checkable
class VoteRecorder(Protocol):
    """The client a vote is recorded by (the Discord bot)."""

    async def record_vote(self, answer_id: str, voter: str, vote: Vote) -> bool: ...


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
        await interaction.response.send_message(
            message(f"vote_{self.vote}" if recorded else "vote_unknown"), ephemeral=True
        )


def vote_view(answer_id: str) -> discord.ui.View:
    """The two buttons, with no timeout: they work for as long as the answer is kept."""
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton("up", answer_id))
    view.add_item(VoteButton("down", answer_id))
    return view
