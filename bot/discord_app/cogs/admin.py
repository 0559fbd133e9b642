"""/reload: pick up new or changed articles without a restart (owner or STORYBOT_ADMIN_ROLE only).

The command is hidden from members without Manage Server (``default_permissions``),
but that is only a client-side default a server admin can change, so the
owner/role check runs again here on every call. The reload is announced
through ``bot.state``, so every process serving the bot reloads.
"""
from __future__ import annotations

from typing import Optional

import discord
from discord import app_commands
from discord.ext import commands

from .. import limits
from ..client import NO_PINGS, AdminOnly, StoryBot


async def _admin_only(interaction: discord.Interaction) -> bool:
    bot = interaction.client
    if isinstance(bot, StoryBot) and await bot.is_admin(interaction.user):
        return True
    raise AdminOnly("Only the bot's owner (or the admin role) can use this command.")


async def story_choices(bot: StoryBot, current: str) -> list[app_commands.Choice[str]]:
    """Story names for an autocomplete: those containing what was typed, at most 25."""
    if bot.library is None:
        return []
    needle = limits.plain(current).lower()
    names = [n for n in bot.library.names() if needle in n.lower()]
    return [app_commands.Choice(name=limits.shorten(limits.plain(n), limits.CHOICE_NAME), value=n[:100])
            for n in names[:25]]


class Admin(commands.Cog):
    def __init__(self, bot: StoryBot) -> None:
        self.bot = bot

    @app_commands.command(name="reload")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(_admin_only)
    @app_commands.describe(story="The story to reload (default: every story)")
    async def reload(self, interaction: discord.Interaction, story: Optional[str] = None) -> None:
        """Re-read the article folders and swap in the new indexes (owner only)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        text = await self.bot.request_reload(story.strip() if story else None, f"/reload by {interaction.user.id}")
        await interaction.followup.send(limits.content(text), ephemeral=True, allowed_mentions=NO_PINGS)

    @reload.autocomplete("story")
    async def reload_story_choices(self, interaction: discord.Interaction,
                                   current: str) -> list[app_commands.Choice[str]]:
        return await story_choices(self.bot, current)


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(Admin(bot))
