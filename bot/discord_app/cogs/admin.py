"""/reload: pick up new or changed articles without a restart (owner or STORYBOT_ADMIN_ROLE only).

The command is hidden from members without Manage Server (``default_permissions``),
but that is only a client-side default a server admin can change, so the
owner/role check runs again here on every call.
"""
from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from .. import render
from ..client import NO_PINGS, AdminOnly, StoryBot


async def _admin_only(interaction: discord.Interaction) -> bool:
    bot = interaction.client
    if isinstance(bot, StoryBot) and await bot.is_admin(interaction.user):
        return True
    raise AdminOnly("not the owner or the admin role")


class Admin(commands.Cog):
    def __init__(self, bot: StoryBot) -> None:
        self.bot = bot

    @app_commands.command(name="reload")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(_admin_only)
    async def reload(self, interaction: discord.Interaction) -> None:
        """Re-read the article folder and swap in the new index (owner only)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        text = await self.bot.request_reload(None, f"/reload by {interaction.user.id}")
        await interaction.followup.send(render.content(text), ephemeral=True, allowed_mentions=NO_PINGS)


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(Admin(bot))
