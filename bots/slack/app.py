"""The Slack adapter: bolt listeners turn mentions, DMs, thread replies, `/ask` and votes into
core calls, and stream the answer back into the thread. It holds no RAG logic."""

from __future__ import annotations

import contextlib
import logging
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncAssistant, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bots.answering import InFlight, answer_into, log_not_enabled
from bots.ops.health import add_health_routes
from bots.ops.metrics import Metrics
from bots.slack.access import SlackAccess, is_direct
from bots.slack.panel_context import PanelContextStore
from bots.slack.replies import CommandReply, ThreadReply
from bots.slack.settings import SlackSettings
from bots.slack.votes import SlackVotes
from bots.state.shared import SharedState
from core import (
    AnswerLog,
    ConfigError,
    Origin,
    Query,
    RagService,
    Routing,
    Turn,
    detect_language,
    message,
)

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@[A-Z0-9]+>")
# Message subtypes that are still someone asking: none, a file shared with text, a thread
# reply also sent to the channel.
_QUESTION_SUBTYPES = {None, "file_share", "thread_broadcast"}
# Messages of a thread read back as its history: the core keeps fewer (HISTORY_TURNS,
# HISTORY_MAX_CHARS), and conversations.replies is slow to page (as little as one call a
# minute for apps outside the Marketplace), so reading stops here.
_THREAD_HISTORY_LIMIT = 50
_DAY_S = 86_400


def build_web_client(settings: SlackSettings) -> AsyncWebClient:
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
        settings: SlackSettings,
        service: RagService,
        answer_log: AnswerLog,
        client: AsyncWebClient | None = None,
        metrics: Metrics | None = None,
        state: SharedState | None = None,
        routing: Routing | None = None,
    ) -> None:
        self._settings = settings
        self._service = service
        self._answer_log = answer_log
        self._metrics = metrics or Metrics()
        self.client = client or build_web_client(settings)
        signing_secret = settings.slack_signing_secret
        self.app = AsyncApp(
            client=self.client,
            signing_secret=signing_secret.get_secret_value() if signing_secret else "",
            logger=log,
        )
        state = state or SharedState()
        self._deduplicator = state.event_deduplicator("slack")
        self._cooldown = state.rate_limiter("slack", settings.slack_cooldown_s)
        self._budget = state.channel_budget("slack", settings.slack_channel_questions_per_minute)
        self._memory = state.conversation_memory("slack", settings.thread_memory_days * _DAY_S)
        self._access = SlackAccess(
            self.client,
            routing or Routing.everywhere(service.default_knowledge_base),
            settings.slack_allowed_channels,
        )
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

    async def start_http(self, host: str, port: int, metrics_route: bool | None = None) -> int:
        """Serve the Events API on /slack/events, with /healthz and /readyz beside it for load
        balancers, and /metrics when `metrics_route` (default: SLACK_HTTP_METRICS); returns
        the bound port."""
        if self._settings.slack_signing_secret is None:
            raise ConfigError("SLACK_SIGNING_SECRET is required for HTTP mode")
        if metrics_route is None:
            metrics_route = self._settings.slack_http_metrics
        web_app = self.app.web_app(path="/slack/events", port=port)
        web_app.middlewares.extend([_malformed_body_is_400, _unsigned_timestamp_is_401])
        add_health_routes(
            web_app, self._service.readiness, self._metrics if metrics_route else None
        )
        self._http = web.AppRunner(web_app)
        await self._http.setup()
        await web.TCPSite(self._http, host, port).start()
        return int(self._http.addresses[0][1])

    async def connected(self) -> bool:
        """Whether Slack can reach the bot now: its Socket Mode connection is up (not
        closed, stale or missing its pongs), or its Events API port is serving; not while
        it drains."""
        if not self._inflight.accepting:
            return False
        if self._socket is not None:
            return bool(await self._socket.client.is_connected())
        return self._http is not None

    def use_routing(self, routing: Routing) -> None:
        """Apply a reloaded routing file to the next question (answers in flight keep theirs)."""
        self._access.use_routing(routing)

    @property
    def answers_in_progress(self) -> int:
        """Questions being answered right now."""
        return len(self._inflight)

    async def stop(self, drain_s: float = 0.0) -> None:
        """Stop receiving first: over Socket Mode, Slack then sends new events to another
        connection or process, or again once this one is back, instead of to one that would
        drop them (the Events API port stays up for health probes, not ready while it
        drains, and tells a question that still comes to ask again). Then let answers in
        progress finish for up to `drain_s` seconds (they post through the Web API), cancel
        the rest, and close what is left."""
        self._inflight.accepting = False
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        await self._inflight.drain(drain_s)
        if self._http is not None:
            await self._http.cleanup()
            self._http = None

    # --- listeners ------------------------------------------------------------------------

    def _register(self) -> None:
        # The assistant side panel (Slack's AI-app surface): DM threads with the app.
        assistant = AsyncAssistant(thread_context_store=PanelContextStore(self._memory))
        assistant.thread_started(self._on_assistant_started)
        assistant.user_message(self._on_assistant_message)
        self.app.use(assistant)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        SlackVotes(self.client, self._answer_log, self._metrics).register(self.app)
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
        channel, thread_ts = event["channel"], event.get("thread_ts")
        if (
            thread_ts
            and self._settings.slack_thread_followups
            and self._access.allows(channel)
            # Only threads the bot answered in are read (conversations.replies) at all.
            and await self._memory.recall(_thread_key(channel, thread_ts))
        ):
            history = await self._history(channel, thread_ts, event["ts"], context)
            await self._answer_event(event, body, context, history)

    async def _on_assistant_started(
        self, payload: dict[str, Any], save_thread_context: Any, set_suggested_prompts: Any
    ) -> None:
        # The channel the user is viewing: it sets the scope of the panel's answers.
        await save_thread_context(payload["assistant_thread"].get("context") or {})
        prompts = self._settings.slack_suggested_prompts
        if prompts:
            await set_suggested_prompts(
                prompts=[{"title": prompt, "message": prompt} for prompt in prompts]
            )

    async def _on_assistant_message(
        self,
        event: dict[str, Any],
        body: dict[str, Any],
        context: Any,
        set_status: Any,
        get_thread_context: Any,
    ) -> None:
        language = detect_language(event.get("text", ""))
        viewing = await get_thread_context()
        await self._answer_event(
            event,
            body,
            context,
            status=lambda: set_status(message("searching", language)),
            viewing=viewing.channel_id if viewing else None,
        )

    async def _answer_event(
        self,
        event: dict[str, Any],
        body: dict[str, Any],
        context: Any,
        history: tuple[Turn, ...] | None = None,
        status: Callable[[], Awaitable[Any]] | None = None,
        viewing: str | None = None,
    ) -> None:
        """Answer a message in its thread. `viewing`: in the assistant panel, the channel
        the user is looking at, whose scope (as the routing gives it to this user there)
        the answer gets; where it has none, the panel's own (a DM's)."""
        channel, ts = event["channel"], event["ts"]
        keys = [f"message:{channel}:{ts}"]
        if body.get("event_id"):
            keys.append(f"event:{body['event_id']}")
        if not await self._deduplicator.claim(*keys):
            log.info("duplicate delivery of %s ignored", keys[0])
            self._metrics.duplicate_events.labels("slack").inc()
            return
        user = event.get("user", "")
        direct = is_direct(channel, event.get("channel_type"))
        shared = body.get("is_ext_shared_channel")
        scope = await self._access.scope(channel, user, direct, shared)
        if viewing and self._access.allows(channel):
            scope = await self._access.scope(viewing, user, direct=False) or scope
        text = _MENTION.sub("", event.get("text", "")).strip()
        if not scope:
            await self._ephemeral(channel, user, event.get("thread_ts"), message("not_enabled"))
            await log_not_enabled(
                self._answer_log, Query(text, origin=Origin("slack", None, channel, user))
            )
            return
        if not self._inflight.accepting:  # shutting down: delivered (acked), never answered
            note = message("restarting", detect_language(text))
            await self._ephemeral(channel, user, event.get("thread_ts"), note)
            return
        wait = await self._wait_needed(channel, user)
        if wait:
            note = message("cooldown", detect_language(text), seconds=math.ceil(wait))
            await self._ephemeral(channel, user, event.get("thread_ts"), note)
            return
        thread_ts = event.get("thread_ts") or ts
        await self._memory.remember(_thread_key(channel, thread_ts))
        if history is None:
            history = (
                await self._history(channel, thread_ts, ts, context)
                if event.get("thread_ts")
                else ()
            )
        team = event.get("team") or body.get("team_id") or context.team_id or ""
        origin = Origin("slack", team, channel, user, thread=thread_ts)
        query = Query(text, history=history, origin=origin, knowledge_bases=scope)
        if status is not None:
            await status()
        else:
            await self._react(channel, ts)
        reply = ThreadReply(self.client, channel, thread_ts, team, user)
        await self._inflight.run(
            answer_into(self._service, self._answer_log, query, reply, self._metrics)
        )

    async def _on_ask_command(
        self, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]
    ) -> None:
        """`/ask question` answers in the channel; `/ask private question` only to the asker.
        The asker sees "searching" at once (the ack's own ephemeral reply), then the answer,
        and a short apology rather than silence if anything fails on the way."""
        text = command.get("text", "").strip()
        private = text.lower().startswith("private ")
        if private:
            text = text[len("private ") :]
        language = detect_language(text)
        if not self._inflight.accepting:  # shutting down
            await ack(text=message("restarting", language), response_type="ephemeral")
            return
        wait = await self._wait_needed(command["channel_id"], command["user_id"])
        if wait:
            note = message("cooldown", language, seconds=math.ceil(wait))
            await ack(text=note, response_type="ephemeral")
            return
        await ack(text=message("searching", language), response_type="ephemeral")
        try:
            await self._answer_command(command, text, private, respond)
        except Exception:
            log.exception("/ask failed outside the answering loop")
            with contextlib.suppress(Exception):
                await respond(
                    text=message("internal_error", language),
                    response_type="ephemeral",
                    replace_original=False,
                )

    async def _answer_command(
        self, command: dict[str, Any], text: str, private: bool, respond: AsyncRespond
    ) -> None:
        channel, user = command["channel_id"], command["user_id"]
        direct = is_direct(channel, channel_name=command.get("channel_name"))
        scope = await self._access.scope(channel, user, direct)
        origin = Origin("slack", command.get("team_id"), channel, user)
        if not scope:
            await respond(
                text=message("not_enabled"), response_type="ephemeral", replace_original=False
            )
            await log_not_enabled(self._answer_log, Query(text, origin=origin))
            return
        query = Query(text, origin=origin, knowledge_bases=scope)
        reply = CommandReply(self.client, respond, command, text, private)
        await self._inflight.run(
            answer_into(self._service, self._answer_log, query, reply, self._metrics)
        )
        if reply.posted_ts:  # replies in its thread are follow-ups
            await self._memory.remember(_thread_key(channel, reply.posted_ts))

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack listener failed: %s", error, exc_info=error)

    # --- helpers --------------------------------------------------------------------------

    async def _wait_needed(self, channel: str, user: str) -> float:
        """Seconds before this question may be answered (the asker's cooldown, else the
        channel's budget); 0 when it counts and is answered now."""
        return await self._cooldown.retry_after(user) or await self._budget.retry_after(channel)

    async def _ephemeral(self, channel: str, user: str, thread_ts: str | None, text: str) -> None:
        await self.client.chat_postEphemeral(
            channel=channel, user=user, thread_ts=thread_ts, text=text
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
            # Replies come oldest first, a page at a time, and no call reads a thread from
            # its end: the thread is read from its start until the limit is reached.
            async for page in await self.client.conversations_replies(
                channel=channel, ts=thread_ts, limit=_THREAD_HISTORY_LIMIT
            ):
                messages.extend(page.get("messages") or [])
                if len(messages) >= _THREAD_HISTORY_LIMIT:
                    break
        except SlackApiError as exc:
            log.warning("could not read thread %s: %s", thread_ts, exc.response.get("error"))
        turns = []
        for item in messages[:_THREAD_HISTORY_LIMIT]:
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


@web.middleware
async def _unsigned_timestamp_is_401(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """slack_sdk's signature check reads X-Slack-Request-Timestamp with `int()`, so one that
    is not a number raises inside bolt (a 500 and a traceback) before any signature is
    compared: such a request is unsigned (401), as one without the header is."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp")
    if timestamp is not None:
        try:
            int(timestamp)
        except ValueError:
            log.info("refused a request to %s: its timestamp is not a number", request.path)
            return web.json_response({"error": "invalid request"}, status=401)
    return await handler(request)


def _thread_key(channel: str, thread_ts: str) -> str:
    return f"thread:{channel}:{thread_ts}"
