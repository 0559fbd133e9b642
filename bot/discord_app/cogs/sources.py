"""/sources and /source: what the bot has read, and any passage in full so people can check a quote."""
from __future__ import annotations

import asyncio
from typing import Optional

import discord
from discord import app_commands
from discord.ext import commands

from .. import limits, render
from ...core.library import StoryUnavailable
from ...core.story import Story
from ..client import NO_PINGS, StoryBot


class Sources(commands.Cog):
    def __init__(self, bot: StoryBot) -> None:
        self.bot = bot

    @app_commands.command(name="sources")
    async def sources(self, interaction: discord.Interaction) -> None:
        """List the articles of this channel's story: headline, outlet, date and link."""
        name, story = await self._story(interaction)
        if story is None:
            await interaction.response.send_message(limits.content(name), ephemeral=True, allowed_mentions=NO_PINGS)
            return
        await interaction.response.send_message(embed=render.sources_embed(story.articles, story=name), ephemeral=True,
                                                allowed_mentions=NO_PINGS)

    async def _story(self, interaction: discord.Interaction) -> tuple[str, Story | None]:
        """This channel's story (name, story), or (why it cannot be served, None).

        Loading a story that is not in memory may take longer than Discord's 3 s on a
        big one; the bot keeps its default story loaded, and others are usually cached.
        """
        bot = self.bot
        name = await bot.story_for(interaction.guild_id, interaction.channel)
        try:
            return name, await bot.open_story(name)
        except StoryUnavailable as exc:
            return f"Sorry: {exc}.", None

    @app_commands.command(name="source")
    @app_commands.describe(article="The article (type to search headlines)",
                           paragraph="The paragraph number, as cited in an answer")
    async def source(self, interaction: discord.Interaction, article: str,
                     paragraph: Optional[app_commands.Range[int, 1, 100_000]] = None) -> None:
        """Show one passage in full with its citation, to check what storybot quoted."""
        _, story = await self._story(interaction)
        found = story.article(article.strip()) if story else None
        if found is None:
            await interaction.response.send_message(
                limits.content(f"I don't know that article. Pick one from the list, or see /sources "
                               f"(there are {len(story.articles) if story else 0})."),
                ephemeral=True, allowed_mentions=NO_PINGS)
            return
        if paragraph is None:
            embed = render.article_embed(found)
        else:
            passage = await asyncio.to_thread(story.passage, found.key, paragraph)  # a scan: off the loop
            if passage is None:
                numbers = ", ".join(map(str, found.numbers))
                await interaction.response.send_message(
                    limits.content(f"Article {found.number} has no paragraph {paragraph} I can show. "
                                   f"Its paragraphs are: {numbers}."),
                    ephemeral=True, allowed_mentions=NO_PINGS)
                return
            embed = render.source_embed(passage)
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)

    @source.autocomplete("article")
    async def article_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        name = await self.bot.story_for(interaction.guild_id, interaction.channel)
        story = self.bot.library.peek(name) if self.bot.library is not None else None
        if story is None:
            return []
        needle = limits.plain(current).lower()
        hits = [a for a in story.articles
                if not needle or needle in a.title.lower() or needle == str(a.number) or needle in a.key.lower()]
        return [app_commands.Choice(name=render.choice_name(a), value=a.key[:100] if len(a.key) <= 100 else str(a.number))
                for a in hits[:25]]


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(Sources(bot))
