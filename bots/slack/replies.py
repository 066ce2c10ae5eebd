"""Where a Slack answer is shown as it arrives: streamed into a thread (chat.startStream, or
post-then-update where streaming is refused), or one message for `/ask`."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_chat_stream import AsyncChatStream
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.format import answer_sections, escape, full_message, sources_and_votes
from core import Answer

__all__ = ["CommandReply", "ThreadReply"]

log = logging.getLogger(__name__)

# Slack allows about one chat.update a second per message. A stream sends what it has
# buffered once this many characters are waiting, or with the first piece that arrives a
# second or more after the last send.
_UPDATE_INTERVAL_S = 1.0
_STREAM_BUFFER_CHARS = 256
_FALLBACK_TEXT_LIMIT = 3000


class CommandReply:
    """The answer to `/ask`, posted once complete: in the channel under a line quoting the
    question, or (`/ask private`) only to the asker."""

    def __init__(
        self, client: AsyncWebClient, channel: str, user: str, question: str, private: bool
    ) -> None:
        self._client = client
        self._channel = channel
        self._user = user
        self._question = question
        self._private = private

    async def add(self, delta: str) -> None:
        """Nothing to show until the answer is complete."""

    async def finish(self, answer: Answer, answer_id: str) -> None:
        blocks = full_message(answer, answer_id, reserved=1)  # the "asked" header
        await self._post(escape(answer.text)[:_FALLBACK_TEXT_LIMIT], blocks)

    async def fail(self, text: str) -> None:
        await self._post(text, answer_sections(text))

    async def _post(self, fallback: str, blocks: list[dict[str, Any]]) -> None:
        try:
            if self._private:
                await self._client.chat_postEphemeral(
                    channel=self._channel, user=self._user, text=fallback, blocks=blocks or None
                )
            else:
                quoted = f"<@{self._user}> asked: {escape(self._question)}"
                await self._client.chat_postMessage(
                    channel=self._channel,
                    text=fallback,
                    blocks=_with_header(quoted, blocks),
                    unfurl_links=False,
                    unfurl_media=False,
                )
        except SlackApiError as exc:  # e.g. not_in_channel: the bot was never invited
            log.warning(
                "could not post the /ask answer in %s: %s", self._channel, exc.response.get("error")
            )


class ThreadReply:
    """One answer message in a thread: streamed with chat.startStream / appendStream /
    stopStream where the workspace has them, else posted once and updated at most about
    once a second (GovSlack, older workspaces)."""

    def __init__(
        self, client: AsyncWebClient, channel: str, thread_ts: str, team: str, user: str
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._team = team
        self._user = user
        self._text = ""
        self._stream: AsyncChatStream | None = None
        self._streaming = True
        self._ts: str | None = None
        self._sent_at = 0.0  # when text last went to Slack, streamed or posted

    async def add(self, delta: str) -> None:
        piece = escape(delta)
        self._text += piece
        if self._streaming:
            try:
                if self._stream is None:
                    self._stream = await self._client.chat_stream(
                        channel=self._channel,
                        thread_ts=self._thread_ts,
                        recipient_team_id=self._team or None,
                        recipient_user_id=self._user or None,
                        buffer_size=_STREAM_BUFFER_CHARS,
                    )
                # The first piece is sent at once (chunks=[] forces a flush) so the user sees
                # the answer begin; later ones are buffered to stay inside rate limits, and a
                # piece arriving a second after the last send goes out with the buffer, so a
                # slow model's short answer still moves.
                now = time.monotonic()
                due = self._stream.ts is None or now - self._sent_at >= _UPDATE_INTERVAL_S
                sent = await self._stream.append(markdown_text=piece, chunks=[] if due else None)
                if sent is not None:
                    self._sent_at = now
                return
            except SlackApiError as exc:
                await self._stop_streaming(exc)
        await self._update(final=False)

    async def finish(self, answer: Answer, answer_id: str) -> None:
        if self._streaming and self._stream is not None:
            try:
                await self._stream.stop(blocks=sources_and_votes(answer, answer_id))
                return
            except SlackApiError as exc:
                await self._stop_streaming(exc)
        self._text = escape(answer.text)
        await self._update(final=True, blocks=full_message(answer, answer_id))

    async def fail(self, text: str) -> None:
        """End the reply with a short, friendly error (after any text already shown)."""
        note = escape(text)
        if self._streaming and self._stream is not None:
            try:
                await self._stream.stop(markdown_text=f"\n\n{note}")
                return
            except SlackApiError as exc:
                await self._stop_streaming(exc)
        # The note must survive the 3000-character cut of a fallback message.
        shown = self._text[: _FALLBACK_TEXT_LIMIT - len(note) - 2]
        self._text = f"{shown}\n\n{note}" if shown else note
        await self._update(final=True)

    async def _stop_streaming(self, exc: SlackApiError) -> None:
        """Fall back to posting and updating. A stream that had started is closed first;
        the rest of the answer then goes into a new message, since a message Slack still
        considers streaming cannot be updated."""
        log.info(
            "Slack streaming unavailable (%s); falling back to chat.update",
            exc.response.get("error"),
        )
        self._streaming = False
        if self._stream is not None and self._stream.ts:
            with contextlib.suppress(SlackApiError, SlackRequestError):
                await self._stream.stop()

    async def _update(self, final: bool, blocks: list[dict[str, Any]] | None = None) -> None:
        now = time.monotonic()
        text = self._text[:_FALLBACK_TEXT_LIMIT]
        if self._ts is None:
            response = await self._client.chat_postMessage(
                channel=self._channel,
                thread_ts=self._thread_ts,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
            self._ts = response["ts"]
        elif final or now - self._sent_at >= _UPDATE_INTERVAL_S:
            await self._client.chat_update(
                channel=self._channel, ts=self._ts, text=text, blocks=blocks
            )
        else:
            return
        self._sent_at = now


def _with_header(header: str, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": header}]}, *blocks]
