"""What the Discord stand-in knows of Discord itself: routes, limits, error codes and the
checks Discord applies to commands and messages."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from tests.standins.discord_payloads import (
    BOT_USER_ID,
)

API_PREFIX = "/api/v10"
GATEWAY_PATH = "/gateway"
# How long shutdown waits for a handler still running before cancelling it, and for a
# client to answer the stand-in's websocket close.
_SHUTDOWN_GRACE_S = 0.1
_WS_CLOSE_TIMEOUT_S = 1.0
# Discord's heartbeat interval; a client heartbeats once at HELLO, then every interval.
_HEARTBEAT_INTERVAL_MS = 41_250
# Gateway opcodes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
_DISPATCH, _HEARTBEAT, _IDENTIFY, _PRESENCE, _RESUME, _RECONNECT = 0, 1, 2, 3, 6, 7
_REQUEST_MEMBERS, _INVALID_SESSION, _HELLO, _HEARTBEAT_ACK = 8, 9, 10, 11
# Interaction callback types.
_DEFERRED_MESSAGE, _DEFERRED_UPDATE, _UPDATE_MESSAGE, _CHANNEL_MESSAGE = 5, 6, 7, 4
# Discord's limits on what a message may carry (https://discord.com/developers/docs/resources/
# message#create-message and .../message#embed-object-embed-limits).
_MAX_CONTENT = 2000
_MAX_EMBEDS = 10
_MAX_EMBED_TOTAL = 6000
_MAX_FIELDS = 25
_EMBED_TEXT_LIMITS = (
    (("title",), 256),
    (("description",), 4096),
    (("footer", "text"), 2048),
    (("author", "name"), 256),
)
_MAX_FIELD_NAME = 256
_MAX_FIELD_VALUE = 1024
_MAX_ACTION_ROWS = 5
_MAX_ROW_COMPONENTS = 5
_MAX_CUSTOM_ID = 100
_MAX_BUTTON_LABEL = 80
_MAX_THREAD_NAME = 100
_IS_COMPONENTS_V2 = 1 << 15
_SUPPRESS_EMBEDS = 1 << 2
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
# (status, code, message) for the errors tests meet most.
_UNKNOWN_CHANNEL = (404, 10003, "Unknown Channel")
_UNKNOWN_MESSAGE = (404, 10008, "Unknown Message")
_UNKNOWN_WEBHOOK = (404, 10015, "Unknown Webhook")
_UNKNOWN_INTERACTION = (404, 10062, "Unknown interaction")
_INVALID_WEBHOOK_TOKEN = (401, 50027, "Invalid Webhook Token")
_ALREADY_ACKNOWLEDGED = (400, 40060, "Interaction has already been acknowledged.")
_EMPTY_MESSAGE = (400, 50006, "Cannot send an empty message")
_MISSING_ACCESS = (403, 50001, "Missing Access")
_DEFAULT_ERRORS = {
    400: (50035, "Invalid Form Body"),
    401: (0, "401: Unauthorized"),
    403: (50013, "Missing Permissions"),
    404: (0, "404: Not Found"),
    500: (0, "500: Internal Server Error"),
    502: (0, "502: Bad Gateway"),
    503: (0, "503: Service Unavailable"),
}


@dataclass(frozen=True)
class RecordedCall:
    """One REST call as the stand-in received and answered it. `path` is after /api/v10;
    `json` is the JSON body, or a multipart body's payload_json; header names lower-cased."""

    method: str
    path: str
    route: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    status: int
    at: float
    files: tuple[str, ...] = ()

    @property
    def body(self) -> dict[str, Any]:
        """The message fields sent: an interaction callback's `data`, else the JSON body."""
        body = self.json if isinstance(self.json, dict) else {}
        if self.route == "interaction.callback":
            return body.get("data") or {}
        return body

    @property
    def content(self) -> str | None:
        return self.body.get("content")

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list(self.body.get("embeds") or [])

    @property
    def allowed_mentions(self) -> dict[str, Any] | None:
        return self.body.get("allowed_mentions")


@dataclass(frozen=True)
class _Route:
    name: str
    method: str
    template: str
    handler: str
    auth: bool

    @property
    def pattern(self) -> re.Pattern[str]:
        pieces = re.split(r"(\{\w+\})", self.template)
        regex = "".join(
            f"(?P<{piece[1:-1]}>[^/]+)" if piece.startswith("{") else re.escape(piece)
            for piece in pieces
        )
        return re.compile(f"^{regex}$")


_WEBHOOK = "/webhooks/{application_id}/{token}"
_COMMANDS = "/applications/{application_id}/commands"
_GUILD_COMMANDS = "/applications/{application_id}/guilds/{guild_id}/commands"
_MESSAGES = "/channels/{channel_id}/messages"
_MESSAGE = _MESSAGES + "/{message_id}"
# Name, method, path, handler, and whether the bot token is required (interaction callbacks
# and follow-up webhooks are authorised by the interaction token in the path). Literal
# segments (@original) come before the templates they would also match.
ROUTES: tuple[_Route, ...] = tuple(
    _Route(*row)
    for row in (
        ("users.me", "GET", "/users/@me", "_users_me", True),
        ("gateway", "GET", "/gateway", "_gateway_url", False),
        ("gateway.bot", "GET", "/gateway/bot", "_gateway_bot", True),
        ("application.me", "GET", "/oauth2/applications/@me", "_application", True),
        ("commands.list", "GET", _COMMANDS, "_commands_list", True),
        ("commands.overwrite", "PUT", _COMMANDS, "_overwrite", True),
        ("guild_commands.list", "GET", _GUILD_COMMANDS, "_commands_list", True),
        ("guild_commands.overwrite", "PUT", _GUILD_COMMANDS, "_overwrite", True),
        (
            "interaction.callback",
            "POST",
            "/interactions/{interaction_id}/{token}/callback",
            "_callback",
            False,
        ),
        ("followup.create", "POST", _WEBHOOK, "_followup", False),
        ("original.get", "GET", _WEBHOOK + "/messages/@original", "_webhook_get", False),
        ("original.edit", "PATCH", _WEBHOOK + "/messages/@original", "_webhook_edit", False),
        ("original.delete", "DELETE", _WEBHOOK + "/messages/@original", "_webhook_delete", False),
        ("followup.get", "GET", _WEBHOOK + "/messages/{message_id}", "_webhook_get", False),
        ("followup.edit", "PATCH", _WEBHOOK + "/messages/{message_id}", "_webhook_edit", False),
        (
            "followup.delete",
            "DELETE",
            _WEBHOOK + "/messages/{message_id}",
            "_webhook_delete",
            False,
        ),
        ("channels.get", "GET", "/channels/{channel_id}", "_channel_get", True),
        ("messages.list", "GET", _MESSAGES, "_messages_list", True),
        ("messages.create", "POST", _MESSAGES, "_messages_create", True),
        ("messages.get", "GET", _MESSAGE, "_message_get", True),
        ("messages.edit", "PATCH", _MESSAGE, "_message_edit", True),
        ("messages.delete", "DELETE", _MESSAGE, "_message_delete", True),
        (
            "threads.create_from_message",
            "POST",
            _MESSAGE + "/threads",
            "_thread_from_message",
            True,
        ),
        ("typing", "POST", "/channels/{channel_id}/typing", "_typing", True),
        ("reactions.add", "PUT", _MESSAGE + "/reactions/{emoji}/@me", "_reaction_add", True),
        (
            "reactions.remove",
            "DELETE",
            _MESSAGE + "/reactions/{emoji}/@me",
            "_reaction_remove",
            True,
        ),
    )
)
_COMPILED = tuple((route, route.pattern) for route in ROUTES)


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: float
    global_: bool
    code: int | None
    message: str | None


@dataclass(frozen=True)
class _Upload:
    field: str
    filename: str
    size: int
    content_type: str


@dataclass(frozen=True)
class _Request:
    route: _Route
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    uploads: tuple[_Upload, ...]


@dataclass
class _Answer:
    """A handler's answer: the HTTP reply, and the gateway events Discord would send with it."""

    body: Any = None
    status: int = 200
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class _Interaction:
    """What the stand-in knows of a dispatched interaction and the replies made to it."""

    id: str
    token: str
    type: int
    channel_id: str
    guild_id: str | None
    user: dict[str, Any]
    name: str | None
    component_message_id: str | None
    dispatched_at: float
    response_type: int | None = None
    responded_at: float | None = None
    original_id: str | None = None
    message_ids: list[str] = field(default_factory=list)


class _DiscordError(Exception):
    """A REST call's error answer: Discord's `{"message", "code", "errors"?}` body."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    @classmethod
    def of(cls, kind: tuple[int, int, str]) -> _DiscordError:
        return cls(*kind)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class _FormErrors:
    """Collects Invalid Form Body errors into Discord's tree ({"content": {"_errors": [...]}})."""

    def __init__(self, prefix: Sequence[str] = ()) -> None:
        self.prefix = tuple(prefix)
        self.tree: dict[str, Any] = {}

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        node = self.tree
        for key in (*self.prefix, *map(str, path)):
            node = node.setdefault(key, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def too_long(self, path: Sequence[str | int], limit: int) -> None:
        self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def raise_if_any(self) -> None:
        if self.tree:
            raise _DiscordError(400, 50035, "Invalid Form Body", self.tree)


def _resolve(method: str, path: str) -> tuple[_Route | None, dict[str, str], list[str]]:
    """The route for `method` and `path`, its path parameters, and (when none matches the
    method) the methods the path allows."""
    allowed: list[str] = []
    for route, pattern in _COMPILED:
        match = pattern.match(path)
        if match is None:
            continue
        if route.method == method:
            return route, match.groupdict(), []
        allowed.append(route.method)
    return None, {}, allowed


def _selects(selector: str, method: str, path: str, route: str) -> bool:
    verb, _, prefix = selector.partition(" ")
    if prefix:
        return method == verb and path.startswith(prefix)
    return route == selector


def _failure_answer(failure: _Failure) -> _Answer:
    if failure.status == 429:
        body = {
            "message": failure.message or "You are being rate limited.",
            "retry_after": failure.retry_after,
            "global": failure.global_,
        }
        if failure.code is not None:
            body["code"] = failure.code
        headers = {
            "Retry-After": str(math.ceil(failure.retry_after)),
            "X-RateLimit-Scope": "global" if failure.global_ else "user",
            # discord.py takes a 429 without Via for a Cloudflare ban and gives up.
            "Via": "1.1 google",
        }
        if failure.global_:
            headers["X-RateLimit-Global"] = "true"
        return _Answer(_json_response(body, 429, headers), 429)
    code, message = _DEFAULT_ERRORS.get(failure.status, (0, f"{failure.status}: Error"))
    body = {
        "message": failure.message or message,
        "code": code if failure.code is None else failure.code,
    }
    return _Answer(_json_response(body, failure.status), failure.status)


def _response_for(answer: _Answer) -> web.Response:
    if isinstance(answer.body, web.Response):
        return answer.body
    if answer.status == 204:
        return web.Response(status=204)
    return _json_response(answer.body, answer.status)


def _json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    # Exactly "application/json", no charset: discord.py parses a body only then.
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


async def _read_body(request: web.Request) -> tuple[Any, tuple[_Upload, ...]]:
    """A JSON body, or a multipart body's payload_json and its files."""
    if not request.body_exists:
        return None, ()
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        payload: Any = None
        uploads: list[_Upload] = []
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            data = await part.read()
            if part.name == "payload_json":
                payload = json.loads(data)
            elif part.filename:
                kind = part.headers.get("Content-Type", "application/octet-stream")
                uploads.append(_Upload(part.name or "", part.filename, len(data), kind))
        return payload, tuple(uploads)
    text = await request.text()
    if request.content_type == "application/json" and text:
        return json.loads(text), ()
    return text or None, ()


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


def _type_error(kind: str) -> dict[str, Any]:
    return {"_errors": [{"code": "BASE_TYPE_BAD_TYPE", "message": f"Must be a valid {kind}."}]}


def _check_command(command: Any, index: int, errors: _FormErrors) -> None:
    if not isinstance(command, dict):
        errors.add([index], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    name = str(command.get("name") or "")
    chat_input = command.get("type", 1) == 1
    if not _COMMAND_NAME.match(name) or (chat_input and name != name.lower()):
        errors.add([index, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    description = str(command.get("description") or "")
    if chat_input and not 1 <= len(description) <= 100:
        errors.add(
            [index, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
        )
    options = command.get("options") or []
    if len(options) > 25:
        errors.too_long([index, "options"], 25)
    seen_optional = False
    for position, option in enumerate(options):
        if option.get("required"):
            if seen_optional:
                errors.add(
                    [index, "options", position, "required"],
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        elif option.get("type") not in (1, 2):
            seen_optional = True
        option_name = str(option.get("name") or "")
        if not _COMMAND_NAME.match(option_name) or option_name != option_name.lower():
            errors.add(
                [index, "options", position, "name"],
                "APPLICATION_COMMAND_INVALID_NAME",
                "Command name is invalid",
            )


def _check_message(
    data: Mapping[str, Any],
    uploads: Sequence[_Upload],
    *,
    prefix: Sequence[str],
    creating: bool,
) -> None:
    """Discord's checks on a message body: lengths of content, embeds and their parts,
    components, and allowed_mentions; a new message must not be empty."""
    errors = _FormErrors(prefix)
    content = data.get("content")
    if isinstance(content, str) and len(content) > _MAX_CONTENT:
        errors.too_long(["content"], _MAX_CONTENT)
    embeds = data.get("embeds") or []
    if len(embeds) > _MAX_EMBEDS:
        errors.too_long(["embeds"], _MAX_EMBEDS)
    total = 0
    for index, embed in enumerate(embeds):
        for keys, limit in _EMBED_TEXT_LIMITS:
            value: Any = embed
            for key in keys:
                value = value.get(key) if isinstance(value, dict) else None
            text = str(value or "")
            total += len(text)
            if len(text) > limit:
                errors.too_long(["embeds", index, *keys], limit)
        fields = embed.get("fields") or []
        if len(fields) > _MAX_FIELDS:
            errors.too_long(["embeds", index, "fields"], _MAX_FIELDS)
        for position, embed_field in enumerate(fields):
            name, value_text = str(embed_field.get("name", "")), str(embed_field.get("value", ""))
            total += len(name) + len(value_text)
            where: list[str | int] = ["embeds", index, "fields", position]
            if not name or not value_text:
                missing = "name" if not name else "value"
                errors.add([*where, missing], "BASE_TYPE_REQUIRED", "This field is required")
            if len(name) > _MAX_FIELD_NAME:
                errors.too_long([*where, "name"], _MAX_FIELD_NAME)
            if len(value_text) > _MAX_FIELD_VALUE:
                errors.too_long([*where, "value"], _MAX_FIELD_VALUE)
    if total > _MAX_EMBED_TOTAL:
        errors.add(
            ["embeds"],
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {_MAX_EMBED_TOTAL}",
        )
    if not int(data.get("flags") or 0) & _IS_COMPONENTS_V2:
        _check_components(data.get("components") or [], errors)
    allowed = data.get("allowed_mentions")
    if isinstance(allowed, dict):
        for kind in ("users", "roles"):
            if kind in (allowed.get("parse") or []) and allowed.get(kind):
                errors.add(
                    ["allowed_mentions"],
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                )
    errors.raise_if_any()
    has_body = bool(content) or bool(embeds) or bool(data.get("components")) or bool(uploads)
    has_body = has_body or bool(data.get("sticker_ids")) or bool(data.get("poll"))
    if creating and not has_body:
        raise _DiscordError.of(_EMPTY_MESSAGE)


def _check_components(rows: Sequence[Any], errors: _FormErrors) -> None:
    if len(rows) > _MAX_ACTION_ROWS:
        errors.too_long(["components"], _MAX_ACTION_ROWS)
    for index, row in enumerate(rows):
        items = row.get("components") or [] if isinstance(row, dict) else []
        if len(items) > _MAX_ROW_COMPONENTS:
            errors.too_long(["components", index, "components"], _MAX_ROW_COMPONENTS)
        for position, item in enumerate(items):
            where: list[str | int] = ["components", index, "components", position]
            if len(str(item.get("custom_id") or "")) > _MAX_CUSTOM_ID:
                errors.too_long([*where, "custom_id"], _MAX_CUSTOM_ID)
            if len(str(item.get("label") or "")) > _MAX_BUTTON_LABEL:
                errors.too_long([*where, "label"], _MAX_BUTTON_LABEL)


def _parse_mentions(
    content: str, allowed: Any, replied_user: str | None
) -> tuple[list[str], list[str], bool]:
    """Who a message mentions, as Discord parses it: everything when `allowed_mentions` is
    absent; otherwise only the kinds in `parse` and the ids listed. A reply mentions the
    replied-to author unless allowed_mentions says replied_user false."""
    if isinstance(allowed, dict):
        parse = set(allowed.get("parse") or [])
        listed_users = {str(u) for u in allowed.get("users") or []}
        listed_roles = {str(r) for r in allowed.get("roles") or []}
        ping_replied = bool(allowed.get("replied_user", False))
    else:
        parse = {"everyone", "users", "roles"}
        listed_users = listed_roles = set()
        ping_replied = True
    users = [
        u
        for u in dict.fromkeys(_USER_MENTION.findall(content))
        if "users" in parse or u in listed_users
    ]
    if replied_user is not None and ping_replied and replied_user not in users:
        users.append(replied_user)
    roles = [
        r
        for r in dict.fromkeys(_ROLE_MENTION.findall(content))
        if "roles" in parse or r in listed_roles
    ]
    everyone = "everyone" in parse and ("@everyone" in content or "@here" in content)
    return users, roles, everyone


def _as_seen_without_content(data: dict[str, Any], *, in_guild: bool) -> dict[str, Any]:
    """A message as an app without the MESSAGE_CONTENT intent receives it, over the gateway
    and REST alike: blank unless the app wrote it, it is a DM, or it mentions the app's bot
    user (https://support-dev.discord.com/hc/articles/4404772028055)."""
    mentions = {str(m.get("id")) for m in data.get("mentions") or []}
    author = str((data.get("author") or {}).get("id"))
    if author == BOT_USER_ID or not in_guild or BOT_USER_ID in mentions:
        return data
    data = copy.deepcopy(data)
    data.update(content="", embeds=[], attachments=[], components=[])
    data.pop("poll", None)
    return data
