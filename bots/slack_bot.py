"""The Slack adapter: bolt listeners turn mentions, DMs, thread replies, `/ask` and votes into
core calls, and stream the answer back into the thread. It holds no RAG logic."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp, AsyncAssistant
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_chat_stream import AsyncChatStream
from slack_sdk.web.async_client import AsyncWebClient

from bots.answering import InFlight, answer_into
from bots.health import add_health_routes
from bots.metrics import Metrics
from bots.shared_state import SharedState
from bots.slack_access import SlackAccess
from bots.slack_format import (
    VOTE_DOWN,
    VOTE_UP,
    answer_sections,
    escape,
    full_message,
    sources_and_votes,
)
from core.errors import ConfigError
from core.feedback import Feedback, Vote
from core.messages import detect_language, message
from core.models import Answer, Origin, Query, Turn
from core.routing import Routing, load_routing
from core.service import RagService
from core.settings import Settings

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@[A-Z0-9]+>")
# Message subtypes that are still someone asking: none, a file shared with text, a thread
# reply also sent to the channel.
_QUESTION_SUBTYPES = {None, "file_share", "thread_broadcast"}
# Slack allows about one chat.update a second per message. A stream sends what it has
# buffered once this many characters are waiting, or with the first piece that arrives a
# second or more after the last send.
_UPDATE_INTERVAL_S = 1.0
_STREAM_BUFFER_CHARS = 256
_FALLBACK_TEXT_LIMIT = 3000
_THREAD_HISTORY_LIMIT = 50


def build_web_client(settings: Settings) -> AsyncWebClient:
    """The Web API client: SLACK_API_URL honoured, 429s waited out (Retry-After) and retried."""
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is required to connect to Slack")
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url or AsyncWebClient.BASE_URL,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


class SlackBot:
    """One bolt `AsyncApp` serving both transports (Socket Mode and HTTP Events API)."""

    def __init__(
        self,
        settings: Settings,
        service: RagService,
        feedback: Feedback,
        client: AsyncWebClient | None = None,
        metrics: Metrics | None = None,
        state: SharedState | None = None,
        routing: Routing | None = None,
    ) -> None:
        self._settings = settings
        self._service = service
        self._feedback = feedback
        self._metrics = metrics or Metrics()
        self.client = client or build_web_client(settings)
        signing_secret = settings.slack_signing_secret
        self.app = AsyncApp(
            client=self.client,
            signing_secret=signing_secret.get_secret_value() if signing_secret else "",
            logger=log,
        )
        self._recent = (state or SharedState()).event_memory("slack")
        self._access = SlackAccess(self.client, routing or load_routing(settings))
        self._inflight = InFlight()
        self._socket: AsyncSocketModeHandler | None = None
        self._http: web.AppRunner | None = None
        self._register()

    # --- transports -----------------------------------------------------------------------

    async def start_socket_mode(self) -> None:
        """Connect over Socket Mode (no public URL needed)."""
        if self._settings.slack_app_token is None:
            raise ConfigError("SLACK_APP_TOKEN (xapp-...) is required for Socket Mode")
        self._socket = AsyncSocketModeHandler(
            self.app, self._settings.slack_app_token.get_secret_value(), web_client=self.client
        )
        await self._socket.connect_async()

    async def start_http(self, host: str, port: int) -> int:
        """Serve the Events API on /slack/events, with /healthz, /readyz and /metrics beside
        it; returns the bound port."""
        if self._settings.slack_signing_secret is None:
            raise ConfigError("SLACK_SIGNING_SECRET is required for HTTP mode")
        web_app = self.app.web_app(path="/slack/events", port=port)
        web_app.middlewares.append(_malformed_body_is_400)
        add_health_routes(web_app, self._service.readiness, self._metrics)
        self._http = web.AppRunner(web_app)
        await self._http.setup()
        await web.TCPSite(self._http, host, port).start()
        return int(self._http.addresses[0][1])

    @property
    def answers_in_progress(self) -> int:
        """Questions being answered right now."""
        return len(self._inflight)

    async def stop(self) -> None:
        """Cancel answers in progress, then close the transports."""
        await self._inflight.cancel_all()
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._http is not None:
            await self._http.cleanup()
            self._http = None

    # --- listeners ------------------------------------------------------------------------

    def _register(self) -> None:
        # The assistant side panel (Slack's AI-app surface): DM threads with the app.
        assistant = AsyncAssistant()
        assistant.thread_started(self._on_assistant_started)
        assistant.user_message(self._on_assistant_message)
        self.app.use(assistant)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.action(VOTE_UP)(self._on_vote)
        self.app.action(VOTE_DOWN)(self._on_vote)
        self.app.command("/ask")(self._on_ask_command)
        self.app.error(self._on_error)

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        # Slack re-sends a mention when it is edited; the question was answered already.
        if event.get("bot_id") or event.get("edited"):
            return
        await self._answer_event(event, body, context)

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        # Edits, deletions, joins and bots' posts are not questions; a file shared with a
        # question is.
        if event.get("subtype") not in _QUESTION_SUBTYPES or event.get("bot_id"):
            return
        if not event.get("user"):
            return
        if event.get("channel_type") == "im":
            # Slack sends no app_mention in DMs, so a DM that mentions the bot comes only here.
            await self._answer_event(event, body, context)
            return
        bot_user = context.bot_user_id
        if bot_user and f"<@{bot_user}>" in event.get("text", ""):
            return  # answered through app_mention
        channel = event["channel"]
        if (
            event.get("thread_ts")
            and self._settings.slack_thread_followups
            and self._allowed(channel)
        ):
            history = await self._history(channel, event["thread_ts"], event["ts"], context)
            if any(turn.role == "assistant" for turn in history):
                await self._answer_event(event, body, context, history)

    async def _on_assistant_started(self, set_suggested_prompts: Any) -> None:
        prompts = self._settings.slack_suggested_prompts
        if prompts:
            await set_suggested_prompts(
                prompts=[{"title": prompt, "message": prompt} for prompt in prompts]
            )

    async def _on_assistant_message(
        self, event: dict[str, Any], body: dict[str, Any], context: Any, set_status: Any
    ) -> None:
        language = detect_language(event.get("text", ""))
        await self._answer_event(
            event, body, context, status=lambda: set_status(message("searching", language))
        )

    async def _answer_event(
        self,
        event: dict[str, Any],
        body: dict[str, Any],
        context: Any,
        history: tuple[Turn, ...] | None = None,
        status: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        channel, ts = event["channel"], event["ts"]
        keys = [f"message:{channel}:{ts}"]
        if body.get("event_id"):
            keys.append(f"event:{body['event_id']}")
        if not await self._recent.claim(*keys):
            log.info("duplicate delivery of %s ignored", keys[0])
            self._metrics.duplicate_events.labels("slack").inc()
            return
        user = event.get("user", "")
        direct = event.get("channel_type") in ("im", "mpim") or channel.startswith("D")
        shared = body.get("is_ext_shared_channel")
        if not self._allowed(channel) or not (
            scope := await self._access.scope(channel, user, direct, shared)
        ):
            await self._not_enabled(channel, user, event.get("thread_ts"))
            return
        thread_ts = event.get("thread_ts") or ts
        if history is None:
            history = (
                await self._history(channel, thread_ts, ts, context)
                if event.get("thread_ts")
                else ()
            )
        text = _MENTION.sub("", event.get("text", "")).strip()
        team = event.get("team") or body.get("team_id") or context.team_id or ""
        origin = Origin("slack", team, channel, user)
        query = Query(text, history=history, origin=origin, knowledge_bases=scope)
        if status is not None:
            await status()
        else:
            await self._react(channel, ts)
        reply = _ThreadReply(self.client, channel, thread_ts, team, user)
        await self._inflight.run(
            answer_into(self._service, self._feedback, query, reply, self._metrics)
        )

    async def _on_vote(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        vote: Vote = "up" if action["action_id"] == VOTE_UP else "down"
        user = body["user"]["id"]
        recorded = await self._feedback.vote(action["value"], user, vote)
        if recorded:
            self._metrics.vote("slack", vote)
        channel = (body.get("channel") or {}).get("id")
        if channel:
            container = body.get("container") or {}
            await self.client.chat_postEphemeral(
                channel=channel,
                user=user,
                thread_ts=container.get("thread_ts") or container.get("message_ts"),
                text=message(f"vote_{vote}" if recorded else "vote_unknown"),
            )

    async def _on_ask_command(self, ack: Any, command: dict[str, Any]) -> None:
        """`/ask question` answers in the channel; `/ask private question` only to the asker."""
        await ack()
        text = command.get("text", "").strip()
        private = text.lower().startswith("private ")
        if private:
            text = text[len("private ") :]
        channel, user = command["channel_id"], command["user_id"]
        direct = channel.startswith("D") or command.get("channel_name") == "directmessage"
        if not self._allowed(channel) or not (
            scope := await self._access.scope(channel, user, direct)
        ):
            await self._not_enabled(channel, user, None)
            return
        origin = Origin("slack", command.get("team_id"), channel, user)
        query = Query(text, origin=origin, knowledge_bases=scope)
        reply = _CommandReply(self.client, channel, user, text, private)
        await self._inflight.run(
            answer_into(self._service, self._feedback, query, reply, self._metrics)
        )

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack listener failed: %s", error, exc_info=error)

    # --- helpers --------------------------------------------------------------------------

    def _allowed(self, channel: str) -> bool:
        allowed = self._settings.slack_allowed_channels
        return not allowed or channel in allowed

    async def _not_enabled(self, channel: str, user: str, thread_ts: str | None) -> None:
        await self.client.chat_postEphemeral(
            channel=channel,
            user=user,
            thread_ts=thread_ts,
            text=message("not_enabled"),
        )

    async def _react(self, channel: str, ts: str) -> None:
        """The 👀 that says the question was seen, within Slack's 3 s window."""
        try:
            await self.client.reactions_add(channel=channel, timestamp=ts, name="eyes")
        except SlackApiError as exc:
            log.info("could not add a reaction: %s", exc.response.get("error"))

    async def _history(
        self, channel: str, thread_ts: str, current_ts: str, context: Any
    ) -> tuple[Turn, ...]:
        """The thread so far, read back from Slack (no local conversation state)."""
        messages: list[dict[str, Any]] = []
        try:
            # Replies come oldest first, a page at a time; the latest ones matter most.
            async for page in await self.client.conversations_replies(
                channel=channel, ts=thread_ts, limit=200
            ):
                messages.extend(page.get("messages") or [])
        except SlackApiError as exc:
            log.warning("could not read thread %s: %s", thread_ts, exc.response.get("error"))
        turns = []
        for item in messages[-_THREAD_HISTORY_LIMIT:]:
            if item.get("ts") == current_ts:
                continue
            mine = item.get("user") == context.bot_user_id or (
                item.get("bot_id") is not None and item.get("bot_id") == context.bot_id
            )
            text = _MENTION.sub("", item.get("text", "")).strip()
            if text:
                turns.append(Turn("assistant" if mine else "user", text))
        return tuple(turns)


@web.middleware
async def _malformed_body_is_400(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Bolt parses the body before it checks the signature, and a body that is not JSON (or
    form data) raises there: that is the sender's error (400), not the server's (500)."""
    try:
        return await handler(request)
    except ValueError as exc:
        log.info("refused a malformed request to %s: %s", request.path, type(exc).__name__)
        return web.json_response({"error": "malformed request body"}, status=400)


class _CommandReply:
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


class _ThreadReply:
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
