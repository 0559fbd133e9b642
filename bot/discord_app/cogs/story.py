"""/story show, /story set, /story clear: which story a server or a channel asks about.

Anyone can see the story of the channel they are in. Choosing one is for a
server admin: the bot's owner, the STORYBOT_ADMIN_ROLE, or a member with
Manage Server in that server (checked here on every call: the commands'
default permissions are only a client-side default). A choice is stored
through ``bot.state``, so every process serving the bot obeys it; a channel's
choice wins over the server's, and a thread follows its channel.
"""
from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from .. import limits
from ..client import NO_PINGS, AdminOnly, StoryBot
from .admin import story_choices

Scope = Literal["channel", "server"]


async def _server_admin_only(interaction: discord.Interaction) -> bool:
    bot = interaction.client
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage("stories are chosen per server or channel")
    perms = interaction.permissions
    if isinstance(bot, StoryBot) and (perms.manage_guild or await bot.is_admin(interaction.user)):
        return True
    raise AdminOnly("Only a server admin (Manage Server), the bot's owner or the admin role can choose the story.")


def _channel_id(interaction: discord.Interaction) -> int | None:
    channel = interaction.channel
    return channel.parent_id if isinstance(channel, discord.Thread) else interaction.channel_id


class StoryCog(commands.Cog, name="Story"):
    group = app_commands.Group(name="story", description="Which story this server or channel asks about")

    def __init__(self, bot: StoryBot) -> None:
        self.bot = bot

    @group.command(name="show")
    async def show(self, interaction: discord.Interaction) -> None:
        """The story questions in this channel are answered from, and the stories there are."""
        bot = self.bot
        assert bot.library is not None
        choice = server_choice = None  # a DM has no choices
        if interaction.guild_id is not None:  # the channel's (else the server's), and the server's to say which
            choice = await bot.state.story_choice(interaction.guild_id, _channel_id(interaction))
            server_choice = await bot.state.story_choice(interaction.guild_id, None)
        name = bot.story_named(choice)  # as bot.story_for would, without reading the choice a third time
        why = ("chosen for this channel" if choice and choice != server_choice
               else "chosen for this server" if server_choice else "the default")
        names = bot.library.names()
        shown = ", ".join(names[:50]) + (f" and {len(names) - 50} more" if len(names) > 50 else "")
        text = f"This channel asks about the story **{limits.escape(limits.plain(name))}** ({why})."
        if name not in names:
            text += " That story is no longer served: a server admin can pick another with /story set."
        text += f"\nStories: {limits.escape(shown)}."
        await interaction.response.send_message(limits.shorten_markdown(text, limits.CONTENT), ephemeral=True,
                                                allowed_mentions=NO_PINGS)

    @group.command(name="set")
    @app_commands.describe(story="The story (type to search)",
                           scope="This channel only, or the whole server (a channel's own choice wins)")
    @app_commands.check(_server_admin_only)
    async def set_story(self, interaction: discord.Interaction, story: str, scope: Scope = "channel") -> None:
        """Choose the story questions here are answered from (server admins)."""
        bot = self.bot
        assert bot.library is not None and interaction.guild_id is not None
        name = bot.library.resolve(story)
        if name is None:
            await interaction.response.send_message(
                limits.content(f"There is no story called {story!r}. Stories: {', '.join(bot.library.names())}."),
                ephemeral=True, allowed_mentions=NO_PINGS)
            return
        channel_id = _channel_id(interaction) if scope == "channel" else None
        await bot.state.set_story_choice(interaction.guild_id, channel_id, name)
        where = "this channel" if scope == "channel" else "this server"
        await interaction.response.send_message(
            limits.content(f"Questions in {where} are now answered from the story {name}."),
            ephemeral=True, allowed_mentions=NO_PINGS)

    @set_story.autocomplete("story")
    async def set_story_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await story_choices(self.bot, current)

    @group.command(name="clear")
    @app_commands.describe(scope="Forget this channel's choice, or the server's")
    @app_commands.check(_server_admin_only)
    async def clear(self, interaction: discord.Interaction, scope: Scope = "channel") -> None:
        """Forget a story choice: the channel then follows the server, the server the default (server admins)."""
        assert interaction.guild_id is not None
        channel_id = _channel_id(interaction) if scope == "channel" else None
        await self.bot.state.set_story_choice(interaction.guild_id, channel_id, None)
        await interaction.response.send_message(
            f"Forgot the story chosen for this {scope}.", ephemeral=True, allowed_mentions=NO_PINGS)


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(StoryCog(bot))
