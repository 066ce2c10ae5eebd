"""The Discord stand-in's application commands and interaction lifecycle: command sync,
the first response within the window, follow-ups and webhook edits (a mixin of
`DiscordStandIn`)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from tests.standins.discord_payloads import (
    APPLICATION_COMMAND,
    APPLICATION_ID,
    CHAT_INPUT_COMMAND,
    DEFAULT_MESSAGE,
    EPHEMERAL,
    GUILD_ID,
    LOADING,
    MESSAGE_COMPONENT,
    new_snowflake,
)
from tests.standins.discord_protocol import (
    _ALREADY_ACKNOWLEDGED,
    _CHANNEL_MESSAGE,
    _DEFERRED_MESSAGE,
    _DEFERRED_UPDATE,
    _INVALID_WEBHOOK_TOKEN,
    _IS_COMPONENTS_V2,
    _MISSING_ACCESS,
    _SUPPRESS_EMBEDS,
    _UNKNOWN_INTERACTION,
    _UNKNOWN_MESSAGE,
    _UNKNOWN_WEBHOOK,
    _UPDATE_MESSAGE,
    _Answer,
    _check_command,
    _check_message,
    _DiscordError,
    _FormErrors,
    _Interaction,
    _Request,
    _truthy,
    _type_error,
    _Upload,
)


class InteractionRoutes:
    """Commands, interaction callbacks, follow-ups and the interaction webhook."""

    def _commands_list(self, request: _Request) -> _Answer:
        guild_id = self._command_scope(request)
        return _Answer(self.commands(guild_id))

    def _overwrite(self, request: _Request) -> _Answer:
        """Bulk overwrite: the given commands replace the scope's; a command keeps its id
        across syncs (matched by name and type), as in Discord."""
        guild_id = self._command_scope(request)
        given = request.json
        if not isinstance(given, list):
            raise _DiscordError(400, 50035, "Invalid Form Body", _type_error("array"))
        errors = _FormErrors()
        for index, command in enumerate(given):
            _check_command(command, index, errors)
        if len(given) > 100:
            errors.too_long([], 100)
        errors.raise_if_any()
        old = self._commands[guild_id]
        synced: dict[str, dict[str, Any]] = {}
        for command in given:
            previous = old.get(command["name"])
            if previous is None or previous["type"] != command.get("type", 1):
                previous = {"id": new_snowflake()}
            stored = {
                "id": previous["id"],
                "application_id": APPLICATION_ID,
                "version": new_snowflake(),
                "default_member_permissions": command.get("default_member_permissions"),
                "type": command.get("type", 1),
                "name": command["name"],
                "name_localizations": command.get("name_localizations"),
                "description": command.get("description", ""),
                "description_localizations": command.get("description_localizations"),
                "options": command.get("options", []),
                "nsfw": command.get("nsfw", False),
            }
            if guild_id is None:
                stored["dm_permission"] = command.get("dm_permission", True)
                stored["contexts"] = command.get("contexts")
                stored["integration_types"] = command.get("integration_types") or [0]
            else:
                stored["guild_id"] = guild_id
            synced[command["name"]] = stored
        self._commands[guild_id] = synced
        return _Answer(self.commands(guild_id))

    def _command_scope(self, request: _Request) -> str | None:
        if request.params["application_id"] != APPLICATION_ID:
            raise _DiscordError.of(_MISSING_ACCESS)
        guild_id = request.params.get("guild_id")
        if guild_id is not None and guild_id != GUILD_ID:
            raise _DiscordError.of(_MISSING_ACCESS)
        return guild_id

    # -- REST: interactions ----------------------------------------------------------------

    def _callback(self, request: _Request) -> _Answer:
        interaction = self._interactions.get(request.params["interaction_id"])
        if interaction is None or interaction.token != request.params["token"]:
            raise _DiscordError.of(_UNKNOWN_INTERACTION)
        now = self._now()
        if now - interaction.dispatched_at > self.response_window_s:
            # Too late: Discord has told the user "The application did not respond".
            raise _DiscordError.of(_UNKNOWN_INTERACTION)
        if interaction.response_type is not None:
            raise _DiscordError.of(_ALREADY_ACKNOWLEDGED)
        body = request.json if isinstance(request.json, dict) else {}
        kind = body.get("type")
        data = body.get("data") or {}
        components_only = (_DEFERRED_UPDATE, _UPDATE_MESSAGE)
        if kind not in (_CHANNEL_MESSAGE, _DEFERRED_MESSAGE, *components_only, 8, 9) or (
            kind in components_only and interaction.type != MESSAGE_COMPONENT
        ):
            errors = _FormErrors()
            errors.add(["type"], "INTERACTION_CALLBACK_TYPE_INVALID", "Invalid callback type")
            errors.raise_if_any()
        answer = _Answer()
        message: dict[str, Any] | None = None
        if kind == _CHANNEL_MESSAGE:
            _check_message(data, request.uploads, prefix=["data"], creating=True)
            message = self._interaction_message(interaction, data, request.uploads)
            answer.events = self._store(message)
            interaction.original_id = message["id"]
        elif kind == _DEFERRED_MESSAGE:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            loading = self._interaction_message(interaction, {}, (), flags=flags)
            answer.events = self._store(loading)
            interaction.original_id = loading["id"]
        elif kind == _UPDATE_MESSAGE:
            _check_message(data, request.uploads, prefix=["data"], creating=False)
            target = self._find(interaction.channel_id, interaction.component_message_id)
            answer.events = self._edit(target, data, request.uploads)
            message = target
        elif kind == _DEFERRED_UPDATE:
            pass
        interaction.response_type = kind
        interaction.responded_at = now
        if not _truthy(request.query.get("with_response")):
            answer.status = 204
            return answer
        original = self._original(interaction)
        callback: dict[str, Any] = {"id": interaction.id, "type": interaction.type}
        if original is not None:
            callback.update(
                response_message_id=original["id"],
                response_message_loading=bool(original["flags"] & LOADING),
                response_message_ephemeral=bool(original["flags"] & EPHEMERAL),
            )
        resource: dict[str, Any] = {"type": kind}
        if message is not None:
            resource["message"] = copy.deepcopy(message)
        answer.body = {"interaction": callback, "resource": resource}
        return answer

    def _followup(self, request: _Request) -> _Answer:
        interaction = self._webhook_interaction(request)
        data = request.json if isinstance(request.json, dict) else {}
        _check_message(data, request.uploads, prefix=[], creating=True)
        original = self._original(interaction)
        if (
            interaction.response_type == _DEFERRED_MESSAGE
            and original is not None
            and original["flags"] & LOADING
        ):
            # The first follow-up after a deferred reply fills in the "thinking" message
            # rather than posting a new one (it keeps the deferral's ephemeral flag).
            events = self._edit(original, {**data, "flags": original["flags"]}, request.uploads)
            return _Answer(copy.deepcopy(original), events=events)
        flags = int(data.get("flags") or 0) & (EPHEMERAL | _IS_COMPONENTS_V2 | _SUPPRESS_EMBEDS)
        message = self._interaction_message(interaction, data, request.uploads, flags=flags)
        events = self._store(message)
        return _Answer(copy.deepcopy(message), events=events)

    def _webhook_get(self, request: _Request) -> _Answer:
        interaction = self._webhook_interaction(request)
        return _Answer(copy.deepcopy(self._webhook_message(interaction, request)))

    def _webhook_edit(self, request: _Request) -> _Answer:
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(interaction, request)
        data = request.json if isinstance(request.json, dict) else {}
        _check_message(data, request.uploads, prefix=[], creating=False)
        events = self._edit(message, data, request.uploads)
        return _Answer(copy.deepcopy(message), events=events)

    def _webhook_delete(self, request: _Request) -> _Answer:
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(interaction, request)
        return _Answer(status=204, events=self._delete(message))

    def _webhook_interaction(self, request: _Request) -> _Interaction:
        """The interaction a follow-up webhook URL names; it must have been answered first,
        and its token lasts `token_lifetime_s`."""
        interaction = self._by_token.get(request.params["token"])
        if request.params["application_id"] != APPLICATION_ID or interaction is None:
            raise _DiscordError.of(_UNKNOWN_WEBHOOK)
        if self._now() - interaction.dispatched_at > self.token_lifetime_s:
            raise _DiscordError.of(_INVALID_WEBHOOK_TOKEN)
        if interaction.response_type is None:
            raise _DiscordError.of(_UNKNOWN_WEBHOOK)
        return interaction

    def _webhook_message(self, interaction: _Interaction, request: _Request) -> dict[str, Any]:
        message_id = request.params.get("message_id")
        if message_id is None:
            message = self._original(interaction)
            if message is None:
                raise _DiscordError.of(_UNKNOWN_MESSAGE)
            return message
        if message_id not in interaction.message_ids:
            raise _DiscordError.of(_UNKNOWN_MESSAGE)
        return self._find(interaction.channel_id, message_id)

    def _original(self, interaction: _Interaction) -> dict[str, Any] | None:
        """The interaction's original response; for a component interaction answered with an
        update, the message the component is on."""
        message_id = interaction.original_id
        if message_id is None and interaction.response_type in (_DEFERRED_UPDATE, _UPDATE_MESSAGE):
            message_id = interaction.component_message_id
        if message_id is None:
            return None
        return self._messages.get(interaction.channel_id, {}).get(message_id)

    def _interaction_message(
        self,
        interaction: _Interaction,
        data: Mapping[str, Any],
        uploads: Sequence[_Upload],
        *,
        flags: int | None = None,
    ) -> dict[str, Any]:
        kind = CHAT_INPUT_COMMAND if interaction.type == APPLICATION_COMMAND else DEFAULT_MESSAGE
        if flags is None:
            flags = int(data.get("flags") or 0) & (EPHEMERAL | _IS_COMPONENTS_V2 | _SUPPRESS_EMBEDS)
        message = self._new_message(interaction.channel_id, data, uploads, kind=kind, flags=flags)
        metadata: dict[str, Any] = {
            "id": interaction.id,
            "type": interaction.type,
            "user": interaction.user,
            "authorizing_integration_owners": {"0": interaction.guild_id or "0"},
        }
        if interaction.name is not None:
            metadata["name"] = interaction.name
            metadata["command_type"] = 1
        message.update(
            webhook_id=APPLICATION_ID,
            application_id=APPLICATION_ID,
            interaction_metadata=metadata,
        )
        if interaction.name is not None:
            message["interaction"] = {
                "id": interaction.id,
                "type": interaction.type,
                "name": interaction.name,
                "user": interaction.user,
            }
        interaction.message_ids.append(message["id"])
        return message

    # -- REST: channels and messages -------------------------------------------------------
