"""Where a Slack answer is shown as it arrives: streamed into a thread (chat.startStream, or
post-then-update where streaming is refused), or posted once complete for `/ask`. A long
answer continues in further messages, so every character of it reaches Slack."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_chat_stream import AsyncChatStream
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.format import (
    MAX_BLOCKS,
    answer_messages,
    escape,
    part_end,
    sections,
    sources_and_votes,
)
from core import Answer

__all__ = ["CommandReply", "ThreadReply"]

log = logging.getLogger(__name__)

# Slack allows about one chat.update a second per message. A stream sends what it has
# buffered once this many characters are waiting, or with the first piece that arrives a
# second or more after the last send.
_UPDATE_INTERVAL_S = 1.0
_STREAM_BUFFER_CHARS = 256
# The `text` beside blocks is only the notification's preview.
_PREVIEW_CHARS = 3000


class CommandReply:
    """The answer to `/ask`, posted once complete: in the channel under a line quoting the
    question, or (`/ask private`) only to the asker. Where the bot cannot post (not in the
    channel, or the channel is closed to it), the answer goes through the command's
    response_url instead: one message, as that URL takes only a few posts."""

    def __init__(
        self,
        client: AsyncWebClient,
        respond: AsyncRespond,
        command: dict[str, Any],
        question: str,
        private: bool,
    ) -> None:
        self._client = client
        self._respond = respond
        self._channel = command["channel_id"]
        self._user = command["user_id"]
        self._question = question
        self._private = private
        self.posted_ts: str | None = None  # the answer's first message in the channel

    async def add(self, delta: str) -> None:
        """Nothing to show until the answer is complete."""

    async def finish(self, answer: Answer, answer_id: str) -> None:
        await self._post(escape(answer.text), answer_messages(answer, answer_id))

    async def fail(self, text: str) -> None:
        await self._post(escape(text), [sections(escape(text))])

    def thread(self) -> str | None:
        return self.posted_ts

    async def _post(self, escaped: str, messages: list[list[dict[str, Any]]]) -> None:
        header = _context(f"<@{self._user}> asked: {escape(self._question)}")
        sent = 0
        try:
            for blocks in messages:
                preview = escaped[:_PREVIEW_CHARS] if not sent else "…"
                if self._private:
                    await self._client.chat_postEphemeral(
                        channel=self._channel, user=self._user, text=preview, blocks=blocks
                    )
                else:
                    response = await self._client.chat_postMessage(
                        channel=self._channel,
                        text=preview,
                        blocks=blocks if sent else [header, *blocks],
                        unfurl_links=False,
                        unfurl_media=False,
                    )
                    self.posted_ts = self.posted_ts or response["ts"]
                sent += 1
            return
        except SlackApiError as exc:
            error = exc.response.get("error")
            if sent:  # part of the answer is shown; a second copy would not help
                log.warning("could not post the rest of an /ask answer: %s", error)
                return
            log.info("cannot post in %s (%s): answering through response_url", self._channel, error)
        # A 50-block message holds about 140,000 characters, more than any answer a model
        # writes in one go.
        blocks = [block for message in messages for block in message]
        if not self._private:
            blocks.insert(0, header)
        answered = await self._respond(
            text=escaped[:_PREVIEW_CHARS],
            blocks=blocks[:MAX_BLOCKS],
            response_type="ephemeral" if self._private else "in_channel",
            replace_original=False,
        )
        if answered.status_code >= 300:
            log.warning("response_url refused the /ask answer: HTTP %d", answered.status_code)


class ThreadReply:
    """An answer in a thread: streamed with chat.startStream / appendStream / stopStream
    where the workspace has them, else posted and updated at most about once a second
    (GovSlack, older workspaces); continued in a new message before either way reaches a
    message's limit (MESSAGE_CHARS)."""

    def __init__(
        self, client: AsyncWebClient, channel: str, thread_ts: str, team: str, user: str
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._team = team
        self._user = user
        # Escaped text not yet in a finished message: the current message's, then any more.
        self._text = ""
        self._finished = 0  # messages of this answer already complete
        self._stream: AsyncChatStream | None = None
        self._streamed = 0  # characters of `_text` handed to the current stream
        self._streaming = True
        self._ts: str | None = None  # the current posted (not streamed) message
        self._sent_at = 0.0  # when text last went to Slack, streamed or posted

    async def add(self, delta: str) -> None:
        self._text += escape(delta)
        if self._streaming:
            try:
                await self._stream_text()
                return
            except SlackApiError as exc:
                await self._stop_streaming(exc)
        await self._update(final=False)

    async def finish(self, answer: Answer, answer_id: str) -> None:
        tail = sources_and_votes(answer, answer_id)
        if self._streaming and (self._stream is not None or self._finished):
            try:
                await self._stream_text()
                await (await self._open_stream()).stop(blocks=tail)
                return
            except SlackApiError as exc:
                await self._stop_streaming(exc)
        if not self._finished:
            self._text = escape(answer.text)
        await self._update(final=True, tail=tail)

    async def fail(self, text: str) -> None:
        """End the reply with a short, friendly error (after any text already shown)."""
        note = escape(text)
        if self._streaming and self._stream is not None:
            try:
                await self._stream.stop(markdown_text=f"\n\n{note}")
                return
            except SlackApiError as exc:
                await self._stop_streaming(exc)
        self._text = f"{self._text}\n\n{note}" if self._text.strip() else note
        await self._update(final=True)

    def thread(self) -> str | None:
        return self._thread_ts

    async def _open_stream(self) -> AsyncChatStream:
        """The current message's stream; a new message's, after a finished one."""
        if self._stream is None:
            self._stream = await self._client.chat_stream(
                channel=self._channel,
                thread_ts=self._thread_ts,
                recipient_team_id=self._team or None,
                recipient_user_id=self._user or None,
                buffer_size=_STREAM_BUFFER_CHARS,
            )
        return self._stream

    async def _stream_text(self) -> None:
        """Hand the stream what it has not had yet; a message that would outgrow its share
        is finished, and the rest streams into a new one."""
        while True:
            end = max(part_end(self._text), self._streamed)
            piece = self._text[self._streamed : end]
            if piece:
                await self._append(piece)
                self._streamed = end
            if end == len(self._text):
                return
            await (await self._open_stream()).stop()
            self._text, self._stream, self._streamed = self._text[end:], None, 0
            self._finished += 1

    async def _append(self, piece: str) -> None:
        stream = await self._open_stream()
        # The first piece of a message is sent at once (chunks=[] forces a flush) so the
        # user sees it begin; later ones are buffered to stay inside rate limits, and a
        # piece arriving a second after the last send goes out with the buffer, so a slow
        # model's short answer still moves.
        now = time.monotonic()
        due = stream.ts is None or now - self._sent_at >= _UPDATE_INTERVAL_S
        sent = await stream.append(markdown_text=piece, chunks=[] if due else None)
        if sent is not None:
            self._sent_at = now

    async def _stop_streaming(self, exc: SlackApiError) -> None:
        """Fall back to posting and updating. A stream that had started is closed first;
        its text is then posted again in a new message with the rest of the answer, since
        a message Slack still considers streaming cannot be updated."""
        log.info(
            "Slack streaming failed (%s); continuing with chat.postMessage / chat.update",
            exc.response.get("error"),
        )
        self._streaming = False
        if self._stream is not None and self._stream.ts:
            with contextlib.suppress(SlackApiError, SlackRequestError):
                await self._stream.stop()

    async def _update(self, final: bool, tail: list[dict[str, Any]] | None = None) -> None:
        """Show `_text` in posted messages: each full share in a finished message of its
        own, the last one updated (throttled) until `final`."""
        while (end := part_end(self._text)) < len(self._text):
            share = self._text[:end]
            await self._show(share, sections(share), force=True)
            self._text, self._ts = self._text[end:], None
            self._finished += 1
        if final:
            await self._show(self._text, sections(self._text) + (tail or []), force=True)
        elif self._text.strip():
            await self._show(self._text, None, force=False)

    async def _show(self, text: str, blocks: list[dict[str, Any]] | None, force: bool) -> None:
        now = time.monotonic()
        preview = text[:_PREVIEW_CHARS] if blocks else text
        if self._ts is None:
            response = await self._client.chat_postMessage(
                channel=self._channel,
                thread_ts=self._thread_ts,
                text=preview,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
            self._ts = response["ts"]
        elif force or now - self._sent_at >= _UPDATE_INTERVAL_S:
            await self._client.chat_update(
                channel=self._channel, ts=self._ts, text=preview, blocks=blocks
            )
        else:
            return
        self._sent_at = now


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
