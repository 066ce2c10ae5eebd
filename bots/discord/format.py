"""Discord's formats: mention-safe text, messages split to Discord's limits, and the sources
embed.

Every send also carries `AllowedMentions.none()`; escaping the text as well means a
document or model can neither ping nor even render `@everyone`, roles or users.
"""

from __future__ import annotations

import re

import discord

from bots.render import source_label, split_text
from core import Answer, shorten

# Discord's limits (https://discord.com/developers/docs/resources/message): content 2000
# characters; an embed's title 256, description 4096, 25 fields of name 256 and value 1024,
# and 6000 characters over all embeds of a message.
CONTENT_LIMIT = 2000
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
MAX_FIELDS = 25
EMBED_TOTAL_LIMIT = 6000
SNIPPET_CHARS = 200
NO_MENTIONS = discord.AllowedMentions.none()
_USER_MENTION = re.compile(r"<@!?\d+>")


def plain_text(content: str) -> str:
    """A message's text without the user mentions that address it (the bot's own above all)."""
    return _USER_MENTION.sub("", content).strip()


def safe(text: str) -> str:
    """Text with `@everyone`, `@here`, role and user mentions defused."""
    return discord.utils.escape_mentions(text)


def content_pieces(text: str) -> list[str]:
    """The answer as message contents of at most 2000 characters each."""
    return split_text(safe(text), CONTENT_LIMIT) or [""]


def sources_embed(answer: Answer) -> discord.Embed | None:
    """One embed listing the sources (label, path or link, snippet), within every limit."""
    if not answer.sources:
        return None
    embed = discord.Embed(title="Sources", colour=discord.Colour.blurple())
    used = len(embed.title or "")
    for source in answer.sources[:MAX_FIELDS]:
        name = shorten(safe(f"[{source.number}] {source_label(source)}"), FIELD_NAME_LIMIT)
        where = (
            f"[{safe(source.source)}]({source.url})" if source.url else f"`{safe(source.source)}`"
        )
        value = shorten(
            f"{where}\n{safe(shorten(source.snippet, SNIPPET_CHARS))}", FIELD_VALUE_LIMIT
        )
        if used + len(name) + len(value) > EMBED_TOTAL_LIMIT:
            break
        embed.add_field(name=name, value=value, inline=False)
        used += len(name) + len(value)
    return embed
