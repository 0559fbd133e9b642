"""/help: the commands in a few lines."""
from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from .. import render
from ..client import NO_PINGS, StoryBot


class Help(commands.Cog):
    def __init__(self, bot: StoryBot) -> None:
        self.bot = bot

    @app_commands.command(name="help")
    async def help(self, interaction: discord.Interaction) -> None:
        """How to ask storybot questions, and what its answers show."""
        name = await self.bot.story_for(interaction.guild_id, interaction.channel)
        story = self.bot.library.peek(name) if self.bot.library is not None else None
        s = self.bot.settings
        embed = render.help_embed(len(story.articles) if story else 0, len(story.passages) if story else 0,
                                  s.cooldown_rate, s.cooldown_per, story=name)
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(Help(bot))
