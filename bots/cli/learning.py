"""The learning loop from a terminal: `helpbot gaps` (what the bot could not answer, grouped
into topics a doc writer can act on), `helpbot gaps set` (what the team decided about one) and
`helpbot digest` (the digest now, printed or posted)."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass

import discord

from bots.cli.output import json_text, plain_text
from bots.discord.posts import DiscordPoster
from bots.discord.settings import DiscordSettings
from bots.slack.app import build_web_client
from bots.slack.posts import SlackPoster
from bots.slack.settings import SlackSettings
from core import (
    GAP_REVIEW_DAYS,
    GAP_STATUSES,
    BadInputError,
    ConfigError,
    Gap,
    GapStatus,
    Helpbot,
    Settings,
)

__all__ = [
    "DigestCommand",
    "GapStatusCommand",
    "GapsCommand",
    "describe_gap",
    "run_digest",
    "run_gap_status",
    "run_gaps",
]

_KINDS = {"not_covered": "not covered", "covered_poorly": "covered poorly"}


@dataclass(frozen=True)
class GapsCommand:
    """The gaps of the last `since_s` seconds, in one knowledge base or all, as text or JSON."""

    since_s: float = 7 * 86400
    kb: str | None = None
    json: bool = False
    closed: bool = False
    """Also the resolved and dismissed gaps."""


@dataclass(frozen=True)
class GapStatusCommand:
    """A gap's new status; the gap is found as `helpbot gaps` with the same `since_s` and
    `kb` lists it, or else among the last GAP_REVIEW_DAYS."""

    gap_id: str
    status: str
    note: str = ""
    since_s: float = 7 * 86400
    kb: str | None = None


@dataclass(frozen=True)
class DigestCommand:
    """The digest of the last `since_s` seconds (DIGEST_EVERY when None), printed, and posted
    to the digest channels with `post`."""

    since_s: float | None = None
    post: bool = False


async def run_digest(
    settings: Settings,
    slack_settings: SlackSettings,
    discord_settings: DiscordSettings,
    command: DigestCommand,
) -> int:
    """Print the digest; with `post`, post it where `helpbot serve` would (on demand: the
    weekly schedule is not moved)."""
    now = time.time()
    async with Helpbot(settings) as bot:
        digest = await bot.coverage.digest(now - (command.since_s or settings.digest_every), now)
    print(plain_text(digest.text))
    if command.post:
        posted = await _post_digest(digest.text, slack_settings, discord_settings)
        whole = [platform for platform, complete in posted if complete]
        cut = [platform for platform, complete in posted if not complete]
        if whole:
            print(f"posted on {', '.join(whole)}")
        if cut:
            print(f"cut short on {', '.join(cut)} (the error is above)", file=sys.stderr)
            return 1
    return 0


async def _post_digest(
    text: str, slack_settings: SlackSettings, discord_settings: DiscordSettings
) -> list[tuple[str, bool]]:
    """Each platform posted on, and whether the whole digest went there."""
    posted: list[tuple[str, bool]] = []
    if slack_settings.digest_slack_channel:
        poster = SlackPoster(build_web_client(slack_settings), slack_settings.digest_slack_channel)
        posted.append((poster.platform, await poster.post_digest(text)))
    if discord_settings.digest_discord_channel:
        if discord_settings.discord_token is None:
            raise ConfigError("DIGEST_DISCORD_CHANNEL needs DISCORD_TOKEN")
        client = discord.Client(intents=discord.Intents.none())
        try:
            await client.login(discord_settings.discord_token.get_secret_value())
            channel = discord_settings.digest_discord_channel
            discord_poster = DiscordPoster(client, channel)
            posted.append((discord_poster.platform, await discord_poster.post_digest(text)))
        finally:
            await client.close()
    if not posted:
        raise ConfigError(
            "nowhere to post: set DIGEST_SLACK_CHANNEL (with SLACK_BOT_TOKEN) or "
            "DIGEST_DISCORD_CHANNEL (with DISCORD_TOKEN)"
        )
    return posted


async def run_gaps(settings: Settings, command: GapsCommand) -> int:
    """Group the failed questions ("I don't know", unsure, 👎) and print each gap."""
    if not settings.log_questions:
        raise BadInputError("questions are not logged (LOG_QUESTIONS=false): no gaps to group")
    async with Helpbot(settings) as bot:
        gaps = await bot.coverage.gaps(command.since_s, command.kb, command.closed)
    for gap in gaps:
        print(json_text(asdict(gap)) if command.json else describe_gap(gap))
    if not gaps and not command.json:
        print("no failed questions in that time: no gaps")
    return 0


async def run_gap_status(settings: Settings, command: GapStatusCommand) -> int:
    """Record a gap's status (kept when the gap is regrouped later, by its questions)."""
    if command.status not in GAP_STATUSES:
        raise BadInputError(
            f"unknown status {command.status!r}: use one of {', '.join(GAP_STATUSES)}"
        )
    async with Helpbot(settings) as bot:
        gap = await bot.coverage.decide(
            command.gap_id,
            GapStatus(command.status, command.note, time.time()),
            command.since_s,
            command.kb,
        )
    if gap is None:
        raise BadInputError(
            f"no gap {command.gap_id} in that window or the last {GAP_REVIEW_DAYS} days; "
            "`helpbot gaps --all` lists the ids (pass the same --since and --kb before `set`)"
        )
    print(
        plain_text(
            f"gap {gap.id}: {command.status}" + (f" ({command.note})" if command.note else "")
        )
    )
    return 0


def describe_gap(gap: Gap) -> str:
    """A gap as a few lines: questions come from chat users, so they are printed plain."""
    header = (
        f"{gap.id}  {gap.status}  {_KINDS[gap.kind]}  {gap.size} question"
        f"{'s' if gap.size != 1 else ''} ({', '.join(gap.languages)})"
        + (f"  {gap.downvotes} down-votes" if gap.downvotes else "")
    )
    lines = [header, f"    asked: {gap.representative}"]
    lines += [f"    also:  {example}" for example in gap.examples]
    if gap.closest is not None:
        lines.append(f"    closest: {gap.closest.section} ({gap.closest.similarity:.2f})")
    if gap.note:
        lines.append(f"    note: {gap.note}")
    return plain_text("\n".join(lines))
