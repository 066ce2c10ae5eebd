"""Slack's formats: escaping for mrkdwn and streamed Markdown, and the answer's blocks.

Text from documents and models is data: it is escaped before it reaches Slack, so it can
never ping (`<!channel>`, `<!here>`, `<@U…>`, `<!subteam^…>`) or render a disguised link
(`<https://evil|docs>`). Slack's own escaping rule is `&`, `<` and `>`.
"""

from __future__ import annotations

from typing import Any

from bots.render import source_label, split_text
from core import Answer, shorten

# Slack's limits: section text 3000 characters, 50 blocks a message, 150 characters a
# context element is not a limit but keeps the sources compact.
SECTION_LIMIT = 3000
MAX_BLOCKS = 50
SNIPPET_CHARS = 150
VOTE_UP, VOTE_DOWN = "helpbot_vote_up", "helpbot_vote_down"


def escape(text: str) -> str:
    """Escape text for mrkdwn and for streamed Markdown alike."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def answer_sections(text: str) -> list[dict[str, Any]]:
    """The answer as mrkdwn section blocks, split to Slack's section limit."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
        for piece in split_text(escape(text), SECTION_LIMIT)
    ]


def sources_and_votes(answer: Answer, answer_id: str) -> list[dict[str, Any]]:
    """The blocks under an answer: its sources in a compact context block, then 👍 / 👎."""
    blocks: list[dict[str, Any]] = []
    if answer.sources:
        elements = [
            {"type": "mrkdwn", "text": _source_line(answer, n)} for n in range(len(answer.sources))
        ]
        # A context block holds at most 10 elements.
        for start in range(0, len(elements), 10):
            blocks.append({"type": "context", "elements": elements[start : start + 10]})
    blocks.append(
        {
            "type": "actions",
            "block_id": "helpbot_feedback",
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


def full_message(answer: Answer, answer_id: str, reserved: int = 0) -> list[dict[str, Any]]:
    """Answer sections, then sources and votes, within Slack's 50-block limit less the
    `reserved` blocks the caller adds."""
    tail = sources_and_votes(answer, answer_id)
    return answer_sections(answer.text)[: MAX_BLOCKS - reserved - len(tail)] + tail


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
