"""The Discord stand-in's REST routes for the bot user, the application, channels,
messages, threads and reactions (a mixin of `DiscordStandIn`, which holds the state)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from tests.standins.discord_payloads import (
    APPLICATION_ID,
    BOT_USER_ID,
    DEFAULT_MESSAGE,
    EPHEMERAL,
    HAS_THREAD,
    LOADING,
    MESSAGE_CONTENT,
    OWNER_ID,
    REPLY,
    bot_member,
    bot_user,
    mentioned,
    new_snowflake,
    snowflake_time,
    thread_channel,
    thread_create,
    user,
)
from tests.standins.discord_protocol import (
    _EMPTY_MESSAGE,
    _IS_COMPONENTS_V2,
    _MAX_THREAD_NAME,
    _SUPPRESS_EMBEDS,
    _UNKNOWN_CHANNEL,
    _UNKNOWN_MESSAGE,
    _Answer,
    _as_seen_without_content,
    _check_message,
    _DiscordError,
    _FormErrors,
    _parse_mentions,
    _Request,
    _Upload,
)


class RestRoutes:
    """REST handlers: each takes a parsed request and returns the answer Discord gives."""

    def _users_me(self, request: _Request) -> _Answer:
        return _Answer(bot_user())

    def _gateway_url(self, request: _Request) -> _Answer:
        return _Answer({"url": self.gateway_url})

    def _gateway_bot(self, request: _Request) -> _Answer:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return _Answer({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    def _application(self, request: _Request) -> _Answer:
        return _Answer(
            {
                "id": APPLICATION_ID,
                "name": "helpbot",
                "icon": None,
                "description": "Answers questions from the team's docs.",
                "summary": "",
                "type": None,
                "hook": True,
                "bot_public": False,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": self._application_flags(),
                "owner": user(OWNER_ID),
                "team": None,
                "bot": bot_user(),
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "tags": [],
                "integration_types_config": {"0": {}},
                "approximate_guild_count": 1,
            }
        )

    def _channel_get(self, request: _Request) -> _Answer:
        return _Answer(copy.deepcopy(self._known_channel(request)))

    def _messages_list(self, request: _Request) -> _Answer:
        """Newest first, as Discord pages them: `before`, `after` or `around` a message id;
        without the Message Content intent in the portal, others' messages read blank."""
        channel = self._known_channel(request)
        messages = [self._as_read(channel, m) for m in self.messages(channel["id"])]
        limit = max(1, min(100, int(request.query.get("limit", 50))))
        ids = [int(message["id"]) for message in messages]
        if "before" in request.query:
            cut = int(request.query["before"])
            page = [m for m, i in zip(messages, ids, strict=True) if i < cut][-limit:]
        elif "after" in request.query:
            cut = int(request.query["after"])
            page = [m for m, i in zip(messages, ids, strict=True) if i > cut][:limit]
        elif "around" in request.query:
            cut = int(request.query["around"])
            older = [m for m, i in zip(messages, ids, strict=True) if i < cut]
            rest = [m for m, i in zip(messages, ids, strict=True) if i >= cut]
            page = older[-(limit // 2) :] if limit // 2 else []
            page += rest[: limit - len(page)]
        else:
            page = messages[-limit:]
        return _Answer(list(reversed(page)))

    def _messages_create(self, request: _Request) -> _Answer:
        channel = self._known_channel(request)
        data = request.json if isinstance(request.json, dict) else {}
        _check_message(data, request.uploads, prefix=[], creating=True)
        reference = data.get("message_reference")
        referenced = None
        if isinstance(reference, dict) and reference.get("message_id"):
            channel_id = str(reference.get("channel_id") or channel["id"])
            referenced = self._messages.get(channel_id, {}).get(str(reference["message_id"]))
            if referenced is None and reference.get("fail_if_not_exists", True):
                errors = _FormErrors()
                errors.add(
                    ["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
                errors.raise_if_any()
        kind = REPLY if referenced is not None else DEFAULT_MESSAGE
        flags = int(data.get("flags") or 0) & (_SUPPRESS_EMBEDS | _IS_COMPONENTS_V2 | 1 << 12)
        message = self._new_message(
            channel["id"], data, request.uploads, kind=kind, flags=flags, replying_to=referenced
        )
        if referenced is not None:
            message["message_reference"] = {
                "type": 0,
                "channel_id": referenced["channel_id"],
                "message_id": referenced["id"],
                **({"guild_id": channel["guild_id"]} if channel.get("guild_id") else {}),
            }
            message["referenced_message"] = copy.deepcopy(referenced)
        if data.get("nonce") is not None:
            message["nonce"] = data["nonce"]
        return _Answer(copy.deepcopy(message), events=self._store(message))

    def _message_get(self, request: _Request) -> _Answer:
        channel = self._known_channel(request)
        message = self._find(request.params["channel_id"], request.params["message_id"])
        return _Answer(self._as_read(channel, copy.deepcopy(message)))

    def _message_edit(self, request: _Request) -> _Answer:
        self._known_channel(request)
        message = self._find(request.params["channel_id"], request.params["message_id"])
        if message["author"]["id"] != BOT_USER_ID:
            raise _DiscordError(403, 50005, "Cannot edit a message authored by another user")
        data = request.json if isinstance(request.json, dict) else {}
        _check_message(data, request.uploads, prefix=[], creating=False)
        events = self._edit(message, data, request.uploads)
        return _Answer(copy.deepcopy(message), events=events)

    def _message_delete(self, request: _Request) -> _Answer:
        self._known_channel(request)
        message = self._find(request.params["channel_id"], request.params["message_id"])
        if message["author"]["id"] != BOT_USER_ID:
            # Deleting others' messages needs MANAGE_MESSAGES, which the bot lacks.
            raise _DiscordError(403, 50013, "Missing Permissions")
        return _Answer(status=204, events=self._delete(message))

    def _thread_from_message(self, request: _Request) -> _Answer:
        channel = self._known_channel(request)
        message = self._find(channel["id"], request.params["message_id"])
        data = request.json if isinstance(request.json, dict) else {}
        name = str(data.get("name") or "")
        errors = _FormErrors()
        if not name:
            errors.add(["name"], "BASE_TYPE_REQUIRED", "This field is required")
        elif len(name) > _MAX_THREAD_NAME:
            errors.too_long(["name"], _MAX_THREAD_NAME)
        errors.raise_if_any()
        if channel["type"] != 0:
            raise _DiscordError(400, 50024, "Cannot execute action on this channel type")
        if message["id"] in self._channels:
            raise _DiscordError(400, 160004, "A thread has already been created for this message")
        thread = thread_channel(
            message["id"],
            name=name,
            parent_id=channel["id"],
            auto_archive_duration=int(data.get("auto_archive_duration") or 1440),
        )
        self._channels[thread["id"]] = thread
        message["thread"] = copy.deepcopy(thread)
        message["flags"] |= HAS_THREAD
        events = [("THREAD_CREATE", thread_create(thread))]
        return _Answer(copy.deepcopy(thread), 201, events=events)

    def _typing(self, request: _Request) -> _Answer:
        self._known_channel(request)
        return _Answer(status=204)

    def _reaction_add(self, request: _Request) -> _Answer:
        self._known_channel(request)
        message = self._find(request.params["channel_id"], request.params["message_id"])
        name = request.params["emoji"]
        reactions = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["emoji"]["name"] == name and not reaction["me"]:
                reaction["count"] += 1
                reaction["count_details"]["normal"] += 1
                reaction["me"] = True
        if not any(reaction["emoji"]["name"] == name for reaction in reactions):
            reactions.append(
                {
                    "emoji": {"id": None, "name": name},
                    "count": 1,
                    "count_details": {"burst": 0, "normal": 1},
                    "burst_colors": [],
                    "me_burst": False,
                    "burst_me": False,
                    "me": True,
                    "burst_count": 0,
                }
            )
        return _Answer(status=204)

    def _reaction_remove(self, request: _Request) -> _Answer:
        self._known_channel(request)
        message = self._find(request.params["channel_id"], request.params["message_id"])
        for reaction in list(message.get("reactions", [])):
            if reaction["emoji"]["name"] == request.params["emoji"] and reaction["me"]:
                reaction["me"] = False
                reaction["count"] -= 1
                reaction["count_details"]["normal"] -= 1
                if not reaction["count"]:
                    message["reactions"].remove(reaction)
        if not message.get("reactions"):
            message.pop("reactions", None)
        return _Answer(status=204)

    # -- the message store -----------------------------------------------------------------

    def _known_channel(self, request: _Request) -> dict[str, Any]:
        channel = self._channels.get(request.params["channel_id"])
        if channel is None:
            raise _DiscordError.of(_UNKNOWN_CHANNEL)
        return channel

    def _as_read(self, channel: Mapping[str, Any], message: dict[str, Any]) -> dict[str, Any]:
        """A stored message as REST returns it: the portal's Message Content toggle applies
        to REST reads too, whatever intents the gateway session asked for."""
        if self.privileged_intents & MESSAGE_CONTENT:
            return message
        return _as_seen_without_content(message, in_guild=bool(channel.get("guild_id")))

    def _find(self, channel_id: str, message_id: str | None) -> dict[str, Any]:
        message = self._messages.get(channel_id, {}).get(message_id or "")
        if message is None:
            raise _DiscordError.of(_UNKNOWN_MESSAGE)
        return message

    def _new_message(
        self,
        channel_id: str,
        data: Mapping[str, Any],
        uploads: Sequence[_Upload],
        *,
        kind: int,
        flags: int,
        replying_to: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A message the bot posts, with the mentions Discord parses from its content under
        its `allowed_mentions`."""
        message_id = new_snowflake()
        message: dict[str, Any] = {
            "type": kind,
            "content": "",
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "timestamp": snowflake_time(message_id),
            "edited_timestamp": None,
            "flags": flags,
            "components": [],
            "id": message_id,
            "channel_id": channel_id,
            "author": user(BOT_USER_ID, bot=True),
            "pinned": False,
            "mention_everyone": False,
            "tts": bool(data.get("tts")),
        }
        replied_user = replying_to["author"]["id"] if replying_to is not None else None
        self._apply(message, data, uploads, replied_user=replied_user)
        return message

    def _apply(
        self,
        message: dict[str, Any],
        data: Mapping[str, Any],
        uploads: Sequence[_Upload],
        *,
        replied_user: str | None = None,
    ) -> None:
        """Set the fields `data` gives (content, embeds, components, attachments), and the
        mentions parsed from the content."""
        if "content" in data:
            message["content"] = data["content"] or ""
        if "embeds" in data:
            message["embeds"] = [{"type": "rich", **embed} for embed in data["embeds"] or []]
        if "components" in data:
            message["components"] = copy.deepcopy(data["components"] or [])
        if "attachments" in data or uploads:
            kept = {str(a.get("id")) for a in data.get("attachments") or []}
            attachments = [a for a in message["attachments"] if a["id"] in kept]
            for upload in uploads:
                attachment_id = new_snowflake()
                url = f"{self._base}/attachments/{message['channel_id']}/{attachment_id}"
                url += f"/{upload.filename}"
                attachments.append(
                    {
                        "id": attachment_id,
                        "filename": upload.filename,
                        "size": upload.size,
                        "url": url,
                        "proxy_url": url,
                        "content_type": upload.content_type,
                    }
                )
            message["attachments"] = attachments
        guild_id = self._channels.get(message["channel_id"], {}).get("guild_id")
        users, roles, everyone = _parse_mentions(
            message["content"], data.get("allowed_mentions"), replied_user
        )
        message["mentions"] = [mentioned(user_id, guild_id) for user_id in users]
        message["mention_roles"] = roles
        message["mention_everyone"] = everyone

    def _store(self, message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Keep `message` in its channel; return the MESSAGE_CREATE to echo."""
        self._messages[message["channel_id"]][message["id"]] = message
        channel = self._channels.get(message["channel_id"])
        if channel is not None:
            channel["last_message_id"] = message["id"]
        return self._echo("MESSAGE_CREATE", message)

    def _edit(
        self, message: dict[str, Any], data: Mapping[str, Any], uploads: Sequence[_Upload]
    ) -> list[tuple[str, dict[str, Any]]]:
        """Apply an edit; a deferred reply stops "thinking". Returns the MESSAGE_UPDATE."""
        before = copy.deepcopy(message)
        self._apply(message, data, uploads)
        if (
            not (message["content"] or message["embeds"] or message["components"])
            and not (message["attachments"])
        ):
            message.clear()
            message.update(before)
            raise _DiscordError.of(_EMPTY_MESSAGE)
        if "flags" in data and data["flags"] is not None:
            keep = message["flags"] & ~_SUPPRESS_EMBEDS
            message["flags"] = keep | (int(data["flags"]) & _SUPPRESS_EMBEDS)
        message["flags"] &= ~LOADING
        message["edited_timestamp"] = snowflake_time(new_snowflake())
        return self._echo("MESSAGE_UPDATE", message)

    def _delete(self, message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        del self._messages[message["channel_id"]][message["id"]]
        deleted = {"id": message["id"], "channel_id": message["channel_id"]}
        guild_id = self._channels.get(message["channel_id"], {}).get("guild_id")
        if guild_id:
            deleted["guild_id"] = guild_id
        return [("MESSAGE_DELETE", deleted)] if self.echo else []

    def _echo(self, event: str, message: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The gateway event Discord sends for the bot's own message (none for ephemeral)."""
        if not self.echo or message["flags"] & EPHEMERAL:
            return []
        data = copy.deepcopy(dict(message))
        channel = self._channels.get(message["channel_id"], {})
        data["channel_type"] = channel.get("type", 0)
        if channel.get("guild_id"):
            data["guild_id"] = channel["guild_id"]
            data["member"] = bot_member(with_user=False)
        return [(event, data)]
