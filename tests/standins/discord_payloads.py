"""Discord payloads for tests, shaped like the ones Discord really sends.

Gateway dispatches (READY, GUILD_CREATE, INTERACTION_CREATE for a slash command or a button
click, MESSAGE_CREATE in a guild channel, a thread or a DM, THREAD_CREATE) and the objects inside
them (users, members, channels, messages). Snowflakes are strings, as on the wire, and new ones
encode the current time, so `discord.Interaction.created_at` and `is_expired()` are right:

    data = slash_command("ask", {"question": "Where is data kept?"}, command_id=command["id"])
    await discord_api.dispatch("INTERACTION_CREATE", data)
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

# The stand-in's identity; `DiscordStandIn` answers /users/@me and READY with these. The
# application and its bot user have different ids (as older apps do), so code that passes one
# where Discord wants the other fails here rather than only for some apps.
APPLICATION_ID = "1200000000000000001"
BOT_USER_ID = "1200000000000000002"
BOT_TOKEN = "stand-in-bot-token"
GUILD_ID = "1100000000000000001"
# Discord gives the @everyone role the guild's id.
EVERYONE_ROLE_ID = GUILD_ID
BOT_ROLE_ID = "1100000000000000002"
CHANNEL_ID = "1100000000000000010"
OWNER_ID = "1000000000000000009"
USER_ID = "1000000000000000001"
OTHER_USER_ID = "1000000000000000002"
DM_CHANNEL_ID = "1100000000000000020"
USERNAMES = {BOT_USER_ID: "helpbot", USER_ID: "alice", OTHER_USER_ID: "bob", OWNER_ID: "owner"}

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

# Channel, interaction, component and message type numbers used below.
GUILD_TEXT = 0
DM = 1
PUBLIC_THREAD = 11
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
BUTTON = 2
DEFAULT_MESSAGE = 0
REPLY = 19
CHAT_INPUT_COMMAND = 20
# Message flags: EPHEMERAL, LOADING (a deferred reply: "helpbot is thinking..."), HAS_THREAD.
EPHEMERAL = 1 << 6
LOADING = 1 << 7
HAS_THREAD = 1 << 5

# Permission bits (https://discord.com/developers/docs/topics/permissions).
_VIEW_CHANNEL = 1 << 10
_SEND_MESSAGES = 1 << 11
_EMBED_LINKS = 1 << 14
_ATTACH_FILES = 1 << 15
_READ_MESSAGE_HISTORY = 1 << 16
_MENTION_EVERYONE = 1 << 17
_USE_EXTERNAL_EMOJIS = 1 << 18
_ADD_REACTIONS = 1 << 6
_USE_APPLICATION_COMMANDS = 1 << 31
_CREATE_PUBLIC_THREADS = 1 << 35
_SEND_MESSAGES_IN_THREADS = 1 << 38
EVERYONE_PERMISSIONS = (
    _VIEW_CHANNEL
    | _SEND_MESSAGES
    | _EMBED_LINKS
    | _ATTACH_FILES
    | _READ_MESSAGE_HISTORY
    | _ADD_REACTIONS
    | _USE_EXTERNAL_EMOJIS
    | _USE_APPLICATION_COMMANDS
    | _CREATE_PUBLIC_THREADS
    | _SEND_MESSAGES_IN_THREADS
)
# The bot may mention @everyone, so only `allowed_mentions` keeps a reply from pinging everyone.
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | _MENTION_EVERYONE
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

_DISCORD_EPOCH_MS = 1_420_070_400_000
_increments = itertools.count()
_last_snowflake = 0
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_OPTION_TYPES: tuple[tuple[type, int], ...] = ((bool, 5), (int, 4), (float, 10), (str, 3))


def new_snowflake(at: float | None = None) -> str:
    """A fresh snowflake for the time `at` (default now), larger than every earlier one."""
    global _last_snowflake
    millis = int((time.time() if at is None else at) * 1000) - _DISCORD_EPOCH_MS
    value = (millis << 22) | (next(_increments) % 4096)
    if at is None:
        value = max(value, _last_snowflake + 1)
        _last_snowflake = value
    return str(value)


def snowflake_time(snowflake: str) -> str:
    """The ISO 8601 timestamp a snowflake encodes, as Discord writes message timestamps."""
    millis = (int(snowflake) >> 22) + _DISCORD_EPOCH_MS
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="microseconds")


def new_token() -> str:
    """An interaction token: opaque to the app, valid for 15 minutes."""
    return f"aW50ZXJhY3Rpb246{uuid.uuid4().hex}{uuid.uuid4().hex}"


def user(user_id: str, *, bot: bool = False) -> dict[str, Any]:
    """A user object; usernames for the ids above are fixed, others derived from the id."""
    username = USERNAMES.get(user_id, f"user{user_id[-4:]}")
    data: dict[str, Any] = {
        "id": user_id,
        "username": username,
        "avatar": None,
        "discriminator": "0",
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "global_name": None if bot else username.title(),
        "avatar_decoration_data": None,
        "collectibles": None,
        "banner_color": None,
        "clan": None,
        "primary_guild": None,
    }
    if bot or user_id == BOT_USER_ID:
        data.update(bot=True, discriminator="4921", global_name=None)
    return data


def bot_user() -> dict[str, Any]:
    """The bot's user, as /users/@me and READY give it (with the current-user fields)."""
    return {**user(BOT_USER_ID, bot=True), "verified": True, "mfa_enabled": False, "email": None}


def member(
    user_id: str,
    *,
    roles: Sequence[str] = (),
    permissions: int | None = None,
    with_user: bool = True,
) -> dict[str, Any]:
    """A guild member. Messages carry a partial member (no `user`); interactions add the
    member's permissions in the channel."""
    data: dict[str, Any] = {
        "avatar": None,
        "banner": None,
        "communication_disabled_until": None,
        "deaf": False,
        "flags": 0,
        "joined_at": "2024-01-15T09:30:00.000000+00:00",
        "mute": False,
        "nick": None,
        "pending": False,
        "premium_since": None,
        "roles": list(roles),
        "unusual_dm_activity_until": None,
    }
    if with_user:
        data["user"] = user(user_id)
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def bot_member(*, with_user: bool = True) -> dict[str, Any]:
    return member(BOT_USER_ID, roles=[BOT_ROLE_ID], with_user=with_user)


def text_channel(
    channel_id: str = CHANNEL_ID, *, name: str = "help", guild_id: str = GUILD_ID
) -> dict[str, Any]:
    """A guild text channel."""
    return {
        "id": channel_id,
        "type": GUILD_TEXT,
        "guild_id": guild_id,
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": "Ask the docs",
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
        "icon_emoji": None,
        "theme_color": None,
    }


def dm_channel(channel_id: str = DM_CHANNEL_ID, *, recipient_id: str = USER_ID) -> dict[str, Any]:
    """The DM channel between the bot and `recipient_id`."""
    return {
        "id": channel_id,
        "type": DM,
        "last_message_id": None,
        "flags": 0,
        "recipients": [user(recipient_id)],
    }


def thread_channel(
    thread_id: str,
    *,
    name: str,
    parent_id: str = CHANNEL_ID,
    owner_id: str = BOT_USER_ID,
    guild_id: str = GUILD_ID,
    auto_archive_duration: int = 1440,
) -> dict[str, Any]:
    """A public thread; one started from a message has that message's id."""
    now = snowflake_time(new_snowflake())
    return {
        "id": thread_id,
        "type": PUBLIC_THREAD,
        "guild_id": guild_id,
        "parent_id": parent_id,
        "owner_id": owner_id,
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "archive_timestamp": now,
            "auto_archive_duration": auto_archive_duration,
            "locked": False,
            "create_timestamp": now,
        },
    }


def thread_create(thread: Mapping[str, Any], *, newly_created: bool = True) -> dict[str, Any]:
    """THREAD_CREATE: a thread the bot can see was created (or the bot was added to one)."""
    data = dict(thread)
    if newly_created:
        data["newly_created"] = True
    data["member"] = {
        "id": thread["id"],
        "user_id": BOT_USER_ID,
        "join_timestamp": snowflake_time(new_snowflake()),
        "flags": 1,
        "muted": False,
        "mute_config": None,
    }
    return data


def roles(guild_id: str = GUILD_ID) -> list[dict[str, Any]]:
    """The guild's roles: @everyone (whose id is the guild's) and the bot's managed role."""

    def role(role_id: str, name: str, position: int, permissions: int, **extra: Any) -> dict:
        return {
            "id": role_id,
            "name": name,
            "description": None,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": bool(extra),
            "mentionable": False,
            "flags": 0,
            **extra,
        }

    return [
        role(guild_id, "@everyone", 0, EVERYONE_PERMISSIONS),
        role(BOT_ROLE_ID, "helpbot", 1, BOT_PERMISSIONS, tags={"bot_id": BOT_USER_ID}),
    ]


def ready(
    *,
    session_id: str,
    resume_gateway_url: str,
    application_flags: int = 0,
    guild_ids: Iterable[str] = (GUILD_ID,),
    shard: Sequence[int] | None = None,
) -> dict[str, Any]:
    """READY: who the bot is, its guilds (unavailable until their GUILD_CREATE), the session
    to resume and where, and the application."""
    data: dict[str, Any] = {
        "v": 10,
        "user_settings": {},
        "user": bot_user(),
        "guilds": [{"id": guild_id, "unavailable": True} for guild_id in guild_ids],
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": resume_gateway_url,
        "relationships": [],
        "private_channels": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": ["rotterdam", "frankfurt", "london"],
        "application": {"id": APPLICATION_ID, "flags": application_flags},
        "auth": {},
        "_trace": ['["gateway-prd-stand-in-0",{"micros":1000}]'],
    }
    if shard is not None:
        data["shard"] = list(shard)
    return data


def guild_create(
    *,
    guild_id: str = GUILD_ID,
    channels: Sequence[Mapping[str, Any]] | None = None,
    threads: Sequence[Mapping[str, Any]] = (),
    members: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """GUILD_CREATE for the stand-in guild. Without the GUILD_MEMBERS intent Discord sends
    only the bot's own member, the default here."""
    channel_list = [text_channel(guild_id=guild_id)] if channels is None else list(channels)
    member_list = [bot_member()] if members is None else list(members)
    return {
        "id": guild_id,
        "name": "Stand-in",
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": OWNER_ID,
        "application_id": None,
        "region": "deprecated",
        "afk_channel_id": None,
        "afk_timeout": 300,
        "system_channel_id": channel_list[0]["id"] if channel_list else None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "widget_enabled": False,
        "verification_level": 1,
        "default_message_notifications": 1,
        "explicit_content_filter": 2,
        "mfa_level": 0,
        "nsfw_level": 0,
        "nsfw": False,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "vanity_url_code": None,
        "max_members": 500_000,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "features": [],
        "roles": roles(guild_id),
        "emojis": [],
        "stickers": [],
        "incidents_data": None,
        "hub_type": None,
        "latest_onboarding_question_id": None,
        "home_header": None,
        "inventory_settings": None,
        "version": 1_700_000_000_000,
        "lazy": True,
        "large": False,
        "unavailable": False,
        "joined_at": "2024-01-15T09:00:00.000000+00:00",
        "member_count": max(len(member_list), 2),
        "members": member_list,
        "channels": channel_list,
        "threads": list(threads),
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "embedded_activities": [],
        "activity_instances": [],
        "application_command_counts": {},
    }


def slash_command(
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    guild_id: str | None = GUILD_ID,
    channel_id: str | None = None,
    user_id: str = USER_ID,
    interaction_id: str | None = None,
    token: str | None = None,
    command_id: str | None = None,
    command_guild_id: str | None = None,
    channel: Mapping[str, Any] | None = None,
    locale: str = "en-US",
) -> dict[str, Any]:
    """INTERACTION_CREATE for `/name` with `options` ({"question": "..."}; str, int, float and
    bool values get their option types). `guild_id=None` means a DM with the bot.
    `command_guild_id` is set for a command registered to a guild, as Discord marks it."""
    data: dict[str, Any] = {"id": command_id or new_snowflake(), "name": name, "type": 1}
    if options:
        data["options"] = [_option(key, value) for key, value in options.items()]
    if command_guild_id is not None:
        data["guild_id"] = command_guild_id
    return _interaction(
        APPLICATION_COMMAND,
        data,
        guild_id=guild_id,
        channel_id=channel_id,
        user_id=user_id,
        interaction_id=interaction_id,
        token=token,
        channel=channel,
        locale=locale,
    )


def button_click(
    custom_id: str,
    *,
    message: Mapping[str, Any],
    guild_id: str | None = GUILD_ID,
    user_id: str = USER_ID,
    interaction_id: str | None = None,
    token: str | None = None,
    channel: Mapping[str, Any] | None = None,
    locale: str = "en-US",
) -> dict[str, Any]:
    """INTERACTION_CREATE for a click on the button `custom_id` of `message` (the message
    object the button is on, usually one the bot sent)."""
    payload = _interaction(
        MESSAGE_COMPONENT,
        {"custom_id": custom_id, "component_type": BUTTON},
        guild_id=guild_id,
        channel_id=str(message["channel_id"]),
        user_id=user_id,
        interaction_id=interaction_id,
        token=token,
        channel=channel,
        locale=locale,
    )
    payload["message"] = dict(message)
    return payload


def message_create(
    content: str,
    *,
    channel_id: str | None = None,
    author_id: str = USER_ID,
    guild_id: str | None = GUILD_ID,
    mentions: Sequence[str] | None = None,
    message_id: str | None = None,
    message_reference: Mapping[str, Any] | None = None,
    referenced_message: Mapping[str, Any] | None = None,
    channel_type: int | None = None,
    embeds: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """MESSAGE_CREATE for a message someone typed: in a guild channel, or in a DM with the bot
    when `guild_id` is None. `mentions` (user ids) default to the `<@id>` in `content`; a
    reply carries `message_reference` (and the `referenced_message` Discord resolves)."""
    if channel_id is None:
        channel_id = CHANNEL_ID if guild_id is not None else DM_CHANNEL_ID
    if channel_type is None:
        channel_type = GUILD_TEXT if guild_id is not None else DM
    if mentions is None:
        mentions = list(dict.fromkeys(_USER_MENTION.findall(content)))
    message_id = message_id or new_snowflake()
    data: dict[str, Any] = {
        "type": REPLY if message_reference is not None else DEFAULT_MESSAGE,
        "tts": False,
        "timestamp": snowflake_time(message_id),
        "pinned": False,
        "nonce": new_snowflake(),
        "mentions": [mentioned(user_id, guild_id) for user_id in mentions],
        "mention_roles": [],
        "mention_everyone": False,
        "id": message_id,
        "flags": 0,
        "embeds": [dict(embed) for embed in embeds],
        "edited_timestamp": None,
        "content": content,
        "components": [],
        "channel_type": channel_type,
        "channel_id": channel_id,
        "author": user(author_id),
        "attachments": [],
    }
    if guild_id is not None:
        data["guild_id"] = guild_id
        data["member"] = member(author_id, with_user=False)
    if message_reference is not None:
        data["message_reference"] = {"type": 0, "channel_id": channel_id, **message_reference}
        data["referenced_message"] = (
            dict(referenced_message) if referenced_message is not None else None
        )
    return data


def mentioned(user_id: str, guild_id: str | None) -> dict[str, Any]:
    """A user in a message's `mentions`: in a guild, with their partial member."""
    data = user(user_id)
    if guild_id is not None:
        roles_ = [BOT_ROLE_ID] if user_id == BOT_USER_ID else []
        data["member"] = member(user_id, roles=roles_, with_user=False)
    return data


def _option(name: str, value: Any) -> dict[str, Any]:
    option_type = next(number for kind, number in _OPTION_TYPES if isinstance(value, kind))
    return {"name": name, "type": option_type, "value": value}


def _interaction(
    interaction_type: int,
    data: dict[str, Any],
    *,
    guild_id: str | None,
    channel_id: str | None,
    user_id: str,
    interaction_id: str | None,
    token: str | None,
    channel: Mapping[str, Any] | None,
    locale: str,
) -> dict[str, Any]:
    """What every interaction carries: who, where, with which permissions, and the token."""
    if channel is None:
        if guild_id is not None:
            channel = text_channel(channel_id or CHANNEL_ID, guild_id=guild_id)
        else:
            channel = dm_channel(channel_id or DM_CHANNEL_ID, recipient_id=user_id)
    channel_id = str(channel["id"])
    payload: dict[str, Any] = {
        "type": interaction_type,
        "id": interaction_id or new_snowflake(),
        "application_id": APPLICATION_ID,
        "token": token or new_token(),
        "version": 1,
        "data": data,
        "channel_id": channel_id,
        "channel": {**channel, "permissions": str(EVERYONE_PERMISSIONS)},
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if guild_id is not None:
        payload.update(
            guild_id=guild_id,
            guild={"id": guild_id, "locale": "en-US", "features": []},
            guild_locale="en-US",
            member=member(user_id, permissions=EVERYONE_PERMISSIONS),
            app_permissions=str(BOT_PERMISSIONS),
            authorizing_integration_owners={"0": guild_id},
            context=0,
        )
    else:
        payload.update(
            user=user(user_id),
            app_permissions=str(BOT_PERMISSIONS),
            authorizing_integration_owners={"0": "0"},
            context=1,
        )
    return payload
