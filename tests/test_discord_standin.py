"""The Discord stand-in, driven by the unmodified `discord.py` client."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.standins.discord_payloads import (
    APPLICATION_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    CHANNEL_ID,
    GUILD_ID,
    MESSAGE_CONTENT,
    USER_ID,
    bot_user,
    button_click,
    message_create,
    slash_command,
)
from tests.standins.discord_server import DiscordStandIn

GUILD = discord.Object(int(GUILD_ID))
ANSWER = "@everyone Segments are kept in object storage such as MinIO or S3 [1]."


def new_client(intents: discord.Intents | None = None) -> discord.Client:
    # A short guild_ready_timeout: on_ready comes that long after the last GUILD_CREATE.
    return discord.Client(intents=intents or discord.Intents.default(), guild_ready_timeout=0.01)


def _with_fields(count: int) -> discord.Embed:
    embed = discord.Embed(title="Sources")
    for n in range(count):
        embed.add_field(name=f"[{n + 1}]", value="storage.md")
    return embed


def ask_command(tree: app_commands.CommandTree, errors: list[Exception]) -> None:
    """/ask as an adapter would write it: defer at once, then answer in a follow-up."""

    @tree.command(name="ask", description="Ask the team's docs")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        await interaction.response.defer()
        embed = discord.Embed(title="Sources", description="[1] storage.md")
        try:
            await interaction.followup.send(
                content="x" * 2001 if question == "too long" else ANSWER,
                embed=embed,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as error:
            errors.append(error)
            await interaction.followup.send(content="Sorry, that answer was too long.")


def test_payload_builders_make_real_discord_objects() -> None:
    client = discord.Client(intents=discord.Intents.default())
    state = client._connection
    # What login() sets from /users/@me; a guild interaction adds the bot as a member.
    state.user = discord.ClientUser(state=state, data=bot_user())  # type: ignore[arg-type]

    # Payload builders return plain dicts; discord.py annotates them as TypedDicts.
    asked: Any = slash_command("ask", {"question": "Where?", "top": 3, "private": True})
    asked_in_dm: Any = slash_command("ask", guild_id=None)
    bot_message = message_create("Answer", author_id=BOT_USER_ID, channel_id=CHANNEL_ID)
    bot_message["components"] = [
        {"type": 1, "components": [{"type": 2, "style": 2, "custom_id": "vote:up"}]}
    ]
    clicked: Any = button_click("vote:up", message=bot_message)
    command = discord.Interaction(data=asked, state=state)
    in_dm = discord.Interaction(data=asked_in_dm, state=state)
    click = discord.Interaction(data=clicked, state=state)

    assert command.type is discord.InteractionType.application_command
    assert command.application_id == int(APPLICATION_ID)
    assert command.guild_id == int(GUILD_ID)
    assert isinstance(command.user, discord.Member) and command.user.name == "alice"
    assert command.data is not None
    assert [(o["name"], o["type"]) for o in command.data["options"]] == [  # type: ignore[typeddict-item]
        ("question", 3),
        ("top", 4),
        ("private", 5),
    ]
    assert not command.is_expired()
    assert (command.expires_at - command.created_at).total_seconds() == 15 * 60
    assert command.app_permissions.mention_everyone and command.app_permissions.send_messages
    assert in_dm.guild_id is None and isinstance(in_dm.user, discord.User)
    assert in_dm.channel is not None and in_dm.channel.type is discord.ChannelType.private
    assert click.type is discord.InteractionType.component
    assert click.custom_id == "vote:up"
    assert click.message is not None and click.message.author.id == int(BOT_USER_ID)


async def test_client_logs_in_connects_and_sees_the_guild(discord_api: DiscordStandIn) -> None:
    client = new_client()
    async with discord_api.running(client):
        await discord_api.wait_until(lambda: discord_api.heartbeats >= 1, what="a heartbeat")
        guild = client.get_guild(int(GUILD_ID))
        assert guild is not None
        channel = guild.get_channel(int(CHANNEL_ID))
        assert isinstance(channel, discord.TextChannel) and channel.name == "help"
        assert guild.me.id == int(BOT_USER_ID)
        assert guild.default_role.id == int(GUILD_ID)
        assert client.user is not None and client.user.id == int(BOT_USER_ID)
        assert client.application_id == int(APPLICATION_ID)

    [me] = discord_api.calls_to("users.me")
    assert me.headers["authorization"] == f"Bot {BOT_TOKEN}"
    # A plain Client goes straight to DEFAULT_GATEWAY; only AutoShardedClient asks /gateway/bot.
    assert discord_api.calls_to("gateway.bot") == []
    query = discord_api.gateway_queries[0]
    assert (query["v"], query["encoding"]) == ("10", "json")
    assert discord_api.intents == discord.Intents.default().value
    assert discord_api.timeline[:6] == [
        "rest:users.me",
        "rest:application.me",
        "connect",
        "identify",
        "dispatch:READY",
        "dispatch:GUILD_CREATE",
    ]
    assert discord_api.timeline[-1] == "close"
    assert client.is_closed()


async def test_slash_command_is_deferred_then_answered_by_a_follow_up(
    discord_api: DiscordStandIn,
) -> None:
    client = new_client()
    tree = app_commands.CommandTree(client)
    ask_command(tree, [])
    async with discord_api.running(client):
        tree.copy_global_to(guild=GUILD)
        await tree.sync(guild=GUILD)
        asked = await discord_api.slash_command("ask", {"question": "Where is data kept?"})
        [follow_up] = await discord_api.wait_for("followup.create")

    [sync] = discord_api.calls_to("guild_commands.overwrite")
    assert sync.path == f"/applications/{APPLICATION_ID}/guilds/{GUILD_ID}/commands"
    assert [c["name"] for c in sync.json] == ["ask"]
    [option] = sync.json[0]["options"]
    assert (option["name"], option["type"], option["required"]) == ("question", 3, True)
    [callback] = discord_api.calls_to("interaction.callback")
    assert callback.path == f"/interactions/{asked['id']}/{asked['token']}/callback"
    assert callback.json == {"type": 5}
    timeline = discord_api.timeline
    assert timeline.index("rest:interaction.callback") < timeline.index("rest:followup.create")
    delay = discord_api.response_delay(asked["id"])
    assert delay is not None and delay < 3.0
    assert follow_up.path == f"/webhooks/{APPLICATION_ID}/{asked['token']}"
    assert "authorization" not in follow_up.headers
    assert follow_up.content == ANSWER
    assert follow_up.embeds[0]["title"] == "Sources"
    assert follow_up.allowed_mentions == {"parse": []}
    # The follow-up filled in the "thinking" message: one message, no @everyone ping.
    [shown] = discord_api.messages(CHANNEL_ID)
    assert shown["content"] == ANSWER
    assert shown["mention_everyone"] is False
    assert shown["flags"] == 0
    assert shown["interaction_metadata"]["name"] == "ask"


async def test_a_follow_up_can_be_edited_while_the_answer_streams(
    discord_api: DiscordStandIn,
) -> None:
    client = new_client()
    tree = app_commands.CommandTree(client)
    fetched: list[discord.InteractionMessage] = []

    @tree.command(name="ask", description="Ask the team's docs")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        await interaction.response.defer(thinking=True)
        message = await interaction.followup.send("…", wait=True)
        for text in ("Segments", "Segments are kept in object storage [1]."):
            await message.edit(content=text)
        fetched.append(await interaction.original_response())
        await interaction.followup.send("Sources: [1] storage.md")
        await interaction.edit_original_response(content="Segments live in S3 [1].")

    async with discord_api.running(client):
        await tree.sync()
        await discord_api.slash_command("ask", {"question": "Where?"})
        await discord_api.wait_for("original.edit")

    first, second = discord_api.calls_to("followup.create")
    edits = discord_api.calls_to("followup.edit")
    [original, sources] = discord_api.messages()
    assert [edit.content for edit in edits] == [
        "Segments",
        "Segments are kept in object storage [1].",
    ]
    assert {edit.params["message_id"] for edit in edits} == {original["id"]}
    assert (first.content, second.content) == ("…", "Sources: [1] storage.md")
    [shown_midway] = fetched
    assert shown_midway.content == "Segments are kept in object storage [1]."
    assert discord_api.calls_to("original.get")[0].status == 200
    assert original["content"] == "Segments live in S3 [1]."
    assert original["edited_timestamp"] is not None
    assert sources["content"] == "Sources: [1] storage.md"


async def test_too_long_follow_up_is_refused_with_a_400(
    discord_api: DiscordStandIn,
) -> None:
    client = new_client()
    tree = app_commands.CommandTree(client)
    errors: list[Exception] = []
    ask_command(tree, errors)
    async with discord_api.running(client):
        await tree.sync()
        await discord_api.slash_command("ask", {"question": "too long"})
        await discord_api.wait_for("followup.create", count=2)

    [error] = errors
    assert isinstance(error, discord.HTTPException)
    assert (error.status, error.code) == (400, 50035)
    assert "In content: Must be 2000 or fewer in length." in error.text
    rejected, apology = discord_api.calls_to("followup.create")
    assert (rejected.status, apology.status) == (400, 200)
    assert [m["content"] for m in discord_api.messages()] == ["Sorry, that answer was too long."]


async def test_rate_limited_follow_up_is_waited_out_and_lands(
    discord_api: DiscordStandIn,
) -> None:
    client = new_client()
    tree = app_commands.CommandTree(client)
    ask_command(tree, [])
    discord_api.fail_with("followup.create", retry_after=0.05)
    async with discord_api.running(client):
        await tree.sync()
        await discord_api.slash_command("ask", {"question": "Where?"})
        await discord_api.wait_for("followup.create", count=2)

    limited, retried = discord_api.calls_to("followup.create")
    assert (limited.status, retried.status) == (429, 200)
    assert retried.at - limited.at >= 0.05
    assert retried.json == limited.json
    assert discord_api.messages()[0]["content"] == ANSWER


async def test_mention_gets_a_reply_and_plain_chatter_arrives_blank(
    discord_api: DiscordStandIn,
) -> None:
    client = new_client()

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author != client.user and client.user in message.mentions:
            await message.reply("Segments are kept in object storage.", mention_author=False)

    async with discord_api.running(client):
        mention = await discord_api.user_message(f"<@{BOT_USER_ID}> where is data kept?")
        [create] = await discord_api.wait_for("messages.create")
        plain = asyncio.ensure_future(
            client.wait_for("message", check=lambda m: m.author.id == int(USER_ID))
        )
        await discord_api.user_message("thanks, that helped")
        dm = asyncio.ensure_future(client.wait_for("message", check=lambda m: m.guild is None))
        await discord_api.user_message("and backups?", dm=True)
        blank, in_dm = await asyncio.wait_for(asyncio.gather(plain, dm), 5)

    assert create.json["message_reference"]["message_id"] == int(mention["id"])
    assert create.allowed_mentions is not None and create.allowed_mentions["replied_user"] is False
    _, reply, chatter = discord_api.messages()
    assert reply["type"] == 19 and reply["referenced_message"]["id"] == mention["id"]
    assert reply["mentions"] == []
    # Without the message content intent only mentions and DMs carry their text.
    assert chatter["content"] == "thanks, that helped" and blank.content == ""
    assert in_dm.content == "and backups?"
    # The bot's own reply comes back over the gateway too, as in Discord.
    assert discord_api.timeline.count("dispatch:MESSAGE_CREATE") == 4


async def test_message_content_intent_shows_every_message(discord_api: DiscordStandIn) -> None:
    intents = discord.Intents.default()
    intents.message_content = True
    client = new_client(intents)
    async with discord_api.running(client):
        seen = asyncio.ensure_future(client.wait_for("message"))
        await discord_api.user_message("thanks, that helped")
        message = await asyncio.wait_for(seen, 5)

    assert message.content == "thanks, that helped"
    assert discord_api.intents & MESSAGE_CONTENT


async def test_history_reads_are_blank_without_the_portals_message_content_toggle(
    discord_api: DiscordStandIn,
) -> None:
    """Discord applies the Message Content toggle to REST reads as well: without it, others'
    messages read back blank unless they mention the bot."""
    discord_api.privileged_intents = 0
    client = new_client()
    async with discord_api.running(client):
        mention = await discord_api.user_message(f"<@{BOT_USER_ID}> where is data kept?")
        await discord_api.user_message("thanks, that helped")
        channel = client.get_partial_messageable(int(CHANNEL_ID), guild_id=int(GUILD_ID))
        history = [m.content async for m in channel.history(limit=10)]
        fetched = await channel.fetch_message(int(mention["id"]))

    assert history == ["", f"<@{BOT_USER_ID}> where is data kept?"]
    assert fetched.content == f"<@{BOT_USER_ID}> where is data kept?"


async def test_buttons_answer_ephemerally_or_update_their_message(
    discord_api: DiscordStandIn,
) -> None:
    client = new_client()

    @client.event
    async def on_interaction(interaction: discord.Interaction) -> None:
        if interaction.custom_id == "vote:up":
            await interaction.response.send_message("Thanks for the vote!", ephemeral=True)
        elif interaction.custom_id == "vote:down":
            await interaction.response.edit_message(content="Answer (voted down)", view=None)

    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label="Helpful", custom_id="vote:up"))
    view.add_item(discord.ui.Button(label="Not helpful", custom_id="vote:down"))
    async with discord_api.running(client):
        channel = client.get_partial_messageable(int(CHANNEL_ID))
        answer = await channel.send("Answer", view=view)
        await discord_api.button_click("vote:up", message_id=str(answer.id))
        await discord_api.wait_for("interaction.callback")
        await discord_api.button_click("vote:down", message_id=str(answer.id))
        await discord_api.wait_for("interaction.callback", count=2)

    thanks, update = discord_api.calls_to("interaction.callback")
    assert thanks.json["type"] == 4 and thanks.body["flags"] == 64
    assert update.json["type"] == 7
    [shown] = discord_api.messages()
    assert (shown["content"], shown["components"]) == ("Answer (voted down)", [])
    assert [m["content"] for m in discord_api.messages(ephemeral=True)][
        -1
    ] == "Thanks for the vote!"


async def test_thread_from_an_answer_is_known_to_the_client(discord_api: DiscordStandIn) -> None:
    client = new_client()
    async with discord_api.running(client):
        channel = client.get_channel(int(CHANNEL_ID))
        assert isinstance(channel, discord.TextChannel)
        question = await channel.send("Where is data kept?")
        created = asyncio.ensure_future(client.wait_for("thread_create"))
        thread = await question.create_thread(name="Where is data kept?")
        await asyncio.wait_for(created, 5)
        async with thread.typing():
            await thread.send("In object storage [1].")
        said = asyncio.ensure_future(
            client.wait_for("message", check=lambda m: m.author.id == int(USER_ID))
        )
        await discord_api.user_message(f"<@{BOT_USER_ID}> and backups?", channel_id=str(thread.id))
        follow_up = await asyncio.wait_for(said, 5)
        history = [m.content async for m in thread.history(limit=10)]

    assert thread.id == question.id
    assert isinstance(client.get_channel(thread.id), discord.Thread)
    assert isinstance(follow_up.channel, discord.Thread)
    assert history == [f"<@{BOT_USER_ID}> and backups?", "In object storage [1]."]
    assert discord_api.calls_to("typing")[0].path == f"/channels/{thread.id}/typing"
    assert discord_api.message(str(question.id))["thread"]["name"] == "Where is data kept?"


@pytest.mark.parametrize(
    ("embeds", "problem"),
    [
        ([discord.Embed(description="x" * 4097)], "In embeds.0.description: Must be 4096 or fewer"),
        ([discord.Embed().add_field(name="n", value="v" * 1025)], "In embeds.0.fields.0.value"),
        ([_with_fields(26)], "In embeds.0.fields: Must be 25 or fewer in length."),
        (
            [discord.Embed(description="x" * 3500), discord.Embed(description="y" * 3500)],
            "In embeds: Embed size exceeds maximum size of 6000",
        ),
    ],
)
async def test_embed_limits_are_checked_as_discord_checks_them(
    discord_api: DiscordStandIn, embeds: list[discord.Embed], problem: str
) -> None:
    client = new_client()
    await client.login(BOT_TOKEN)
    channel = client.get_partial_messageable(int(CHANNEL_ID))
    try:
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send("Answer", embeds=embeds)
    finally:
        await client.close()

    assert (caught.value.status, caught.value.code) == (400, 50035)
    assert problem in caught.value.text
    assert discord_api.messages() == []


async def test_other_message_limits_and_errors(discord_api: DiscordStandIn) -> None:
    client = new_client()
    await client.login(BOT_TOKEN)
    channel = client.get_partial_messageable(int(CHANNEL_ID))
    route = discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=CHANNEL_ID)
    try:
        fits = await channel.send("x" * 2000)
        # discord.py refuses more than 10 embeds itself; the raw request reaches Discord.
        with pytest.raises(discord.HTTPException, match="Must be 10 or fewer") as eleven:
            await client.http.request(route, json={"embeds": [{"description": "x"}] * 11})
        with pytest.raises(discord.HTTPException) as empty:
            await client.http.request(route, json={"content": ""})
        with pytest.raises(discord.NotFound) as unknown:
            await client.get_partial_messageable(42).send("hello")
        await fits.edit(content="edited")
    finally:
        await client.close()

    assert eleven.value.code == 50035
    assert (empty.value.status, empty.value.code) == (400, 50006)
    assert unknown.value.code == 10003
    assert [m["content"] for m in discord_api.messages()] == ["edited"]


async def test_file_upload_is_recorded_with_its_payload_json(
    discord_api: DiscordStandIn,
) -> None:
    client = new_client()
    await client.login(BOT_TOKEN)
    try:
        sources = discord.File(io.BytesIO(b"[1] storage.md"), filename="sources.md")
        await client.get_partial_messageable(int(CHANNEL_ID)).send("Sources attached", file=sources)
    finally:
        await client.close()

    [upload] = discord_api.calls_to("messages.create")
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert upload.files == ("sources.md",)
    assert upload.content == "Sources attached"
    [shown] = discord_api.messages()
    assert [(a["filename"], a["size"]) for a in shown["attachments"]] == [("sources.md", 14)]


async def test_global_rate_limit_is_waited_out(discord_api: DiscordStandIn) -> None:
    discord_api.fail_with("messages.create", retry_after=0.02, global_=True)
    client = new_client()
    await client.login(BOT_TOKEN)
    try:
        await client.get_partial_messageable(int(CHANNEL_ID)).send("hello")
    finally:
        await client.close()

    limited, sent = discord_api.calls_to(f"POST /channels/{CHANNEL_ID}/messages")
    assert (limited.status, sent.status) == (429, 200)
    assert [m["content"] for m in discord_api.messages()] == ["hello"]


async def test_global_sync_keeps_command_ids_and_scripted_errors_surface(
    discord_api: DiscordStandIn,
) -> None:
    client = new_client()
    tree = app_commands.CommandTree(client)
    ask_command(tree, [])
    await client.login(BOT_TOKEN)
    try:
        [first] = await tree.sync()
        [again] = await tree.sync()
        discord_api.fail_with("commands.overwrite", status=403)
        with pytest.raises(discord.Forbidden):
            await tree.sync()
    finally:
        await client.close()

    assert first.id == again.id
    assert [c["name"] for c in discord_api.commands()] == ["ask"]
    assert discord_api.commands(GUILD_ID) == []


async def test_late_answers_and_expired_tokens_are_refused(discord_api: DiscordStandIn) -> None:
    client = new_client()
    tree = app_commands.CommandTree(client)
    errors: list[discord.HTTPException] = []

    @tree.command(name="ask", description="Ask the team's docs")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        try:
            await interaction.response.defer()
            await interaction.followup.send("Answer")
        except discord.HTTPException as error:
            errors.append(error)

    async with discord_api.running(client):
        await tree.sync()
        discord_api.response_window_s = 0.0
        await discord_api.slash_command("ask", {"question": "late"})
        await discord_api.wait_for("interaction.callback")
        discord_api.response_window_s = 3.0
        discord_api.token_lifetime_s = 0.0
        await discord_api.slash_command("ask", {"question": "expired"})
        await discord_api.wait_for("followup.create")

    late, expired = errors
    assert isinstance(late, discord.NotFound) and late.code == 10062
    assert (expired.status, expired.code) == (401, 50027)
    assert [m["flags"] for m in discord_api.messages()] == [128]  # still "thinking"


async def test_raw_calls_get_discord_errors(discord_api: DiscordStandIn) -> None:
    asked = slash_command("ask", {"question": "Where?"})
    callback = f"{discord_api.rest_base}/interactions/{asked['id']}/{asked['token']}/callback"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{discord_api.rest_base}/users/@me") as no_token:
            assert (no_token.status, await no_token.json()) == (
                401,
                {"message": "401: Unauthorized", "code": 0},
            )
        async with session.post(callback, json={"type": 5}) as unknown:
            assert (await unknown.json())["code"] == 10062
        async with session.get(f"{discord_api.rest_base}/nowhere") as missing:
            assert missing.status == 404
            assert missing.headers["Content-Type"] == "application/json"

    assert [call.route for call in discord_api.calls] == [
        "users.me",
        "interaction.callback",
        "unknown",
    ]


async def test_double_acknowledgement_is_refused(discord_api: DiscordStandIn) -> None:
    client = new_client()
    async with discord_api.running(client):
        asked = slash_command("ask", {"question": "Where?"})
        await discord_api.dispatch("INTERACTION_CREATE", asked)
        url = f"{discord_api.rest_base}/interactions/{asked['id']}/{asked['token']}/callback"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json={"type": 5}) as first:
                assert first.status == 204
            async with session.post(url, json={"type": 5}) as second:
                assert (second.status, (await second.json())["code"]) == (400, 40060)


async def test_reconnect_resumes_and_events_keep_arriving(discord_api: DiscordStandIn) -> None:
    client = new_client()
    async with discord_api.running(client):
        await discord_api.request_reconnect()
        seen = asyncio.ensure_future(client.wait_for("message"))
        await discord_api.user_message(f"<@{BOT_USER_ID}> still there?")
        message = await asyncio.wait_for(seen, 5)

    assert message.content == f"<@{BOT_USER_ID}> still there?"
    assert discord_api.connections == 2 and len(discord_api.identifies) == 1
    resumed = discord_api.timeline.index("resume")
    assert discord_api.timeline[resumed + 1] == "dispatch:RESUMED"


async def test_bad_token_and_disallowed_intents_fail_like_discord(
    discord_api: DiscordStandIn,
) -> None:
    refused = new_client()
    with pytest.raises(discord.LoginFailure):
        await refused.login("not-the-token")
    await refused.close()

    discord_api.privileged_intents = 0
    intents = discord.Intents.default()
    intents.message_content = True
    client = new_client(intents)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with discord_api.running(client):
            pass

    assert discord_api.identifies == []
