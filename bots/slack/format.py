"""Slack's formats: escaping for mrkdwn and streamed Markdown, and the answer's blocks.

Text from documents and models is data: it is escaped before it reaches Slack, so it can
never ping (`<!channel>`, `<!here>`, `<@U…>`, `<!subteam^…>`) or render a disguised link
(`<https://evil|docs>`). Slack's own escaping rule is `&`, `<` and `>`.
"""

from __future__ import annotations

from typing import Any

from bots.render import source_label, split_text
from core import Answer, shorten

# Slack's limits: section text 3000 characters, 50 blocks a message, 10 elements a context
# block; 150 characters a context element is not a limit but keeps the sources compact.
SECTION_LIMIT = 3000
MAX_BLOCKS = 50
CONTEXT_ELEMENTS = 10
SNIPPET_CHARS = 150
# Text in one answer message, streamed or posted. A streamed message holds about 12,000
# characters (12,000 a chat.*Stream call, documented; about as many in all, seen in real
# workspaces); a longer answer continues in the next message. Four sections' worth, so a
# posted message stays far inside the 50-block limit too.
MESSAGE_CHARS = 10_000
VOTE_UP, VOTE_DOWN = "helpbot_vote_up", "helpbot_vote_down"
FEEDBACK_BLOCK = "helpbot_feedback"
"""The vote buttons' block; its id also carries the answer's language (`helpbot_feedback:ja`),
which Slack echoes with every click, so the notes to the voter are in that language."""


def escape(text: str) -> str:
    """Escape text for mrkdwn and for streamed Markdown alike."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sections(escaped: str) -> list[dict[str, Any]]:
    """Already escaped text as mrkdwn section blocks, split to Slack's section limit."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
        for piece in split_text(escaped, SECTION_LIMIT)
    ]


def part_end(escaped: str, limit: int = MESSAGE_CHARS) -> int:
    """Where the first message's share of `escaped` ends: all of it when it fits, else at a
    paragraph, line or word boundary, never inside an `&amp;`-style entity. Nothing before
    or after the cut is dropped, so every character reaches the thread."""
    if len(escaped) <= limit:
        return len(escaped)
    cut = max(escaped.rfind(sep, limit // 2, limit) for sep in ("\n\n", "\n", " "))
    if cut > 0:
        return cut
    entity = escaped.rfind("&", limit - 5, limit)
    return entity if entity > 0 and ";" not in escaped[entity:limit] else limit


def message_parts(escaped: str, limit: int = MESSAGE_CHARS) -> list[str]:
    """Already escaped text cut into the shares of consecutive messages."""
    parts = []
    while len(escaped) > limit:
        end = part_end(escaped, limit)
        parts.append(escaped[:end])
        escaped = escaped[end:]
    return [*parts, escaped]


def sources_and_votes(answer: Answer, answer_id: str) -> list[dict[str, Any]]:
    """The blocks under an answer: its sources in a compact context block, then 👍 / 👎."""
    blocks: list[dict[str, Any]] = []
    if answer.sources:
        elements = [
            {"type": "mrkdwn", "text": _source_line(answer, n)} for n in range(len(answer.sources))
        ]
        for start in range(0, len(elements), CONTEXT_ELEMENTS):
            blocks.append(
                {"type": "context", "elements": elements[start : start + CONTEXT_ELEMENTS]}
            )
    blocks.append(
        {
            "type": "actions",
            "block_id": f"{FEEDBACK_BLOCK}:{answer.language}",
            "elements": [
                {
                    "type": "button",
                    "action_id": VOTE_UP,
                    "text": {"type": "plain_text", "text": "👍", "emoji": True},
                    "value": answer_id,
                },
                {
                    "type": "button",
                    "action_id": VOTE_DOWN,
                    "text": {"type": "plain_text", "text": "👎", "emoji": True},
                    "value": answer_id,
                },
            ],
        }
    )
    return blocks


def answer_messages(answer: Answer, answer_id: str) -> list[list[dict[str, Any]]]:
    """The blocks of each message a complete answer takes: its text in shares of
    MESSAGE_CHARS, the last one followed by the sources and votes."""
    messages = [sections(part) for part in message_parts(escape(answer.text))]
    messages[-1] += sources_and_votes(answer, answer_id)
    return messages


def _source_line(answer: Answer, index: int) -> str:
    source = answer.sources[index]
    label = escape(source_label(source))
    title = f"<{_safe_url(source.url)}|{label}>" if source.url else f"*{label}*"
    snippet = shorten(source.snippet, SNIPPET_CHARS)
    return f"[{source.number}] {title} · `{escape(source.source)}`\n{escape(snippet)}"


def _safe_url(url: str) -> str:
    # Our own links (from --url templates or ingested URLs); still, `|` or `>` would end the
    # link early, so they are percent-encoded.
    return url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C").replace(" ", "%20")
