"""Questions: /ask, the 'Ask storybot' message menu, and plain messages.

Plain messages are questions when they mention the bot, in DMs, in every
channel listed in STORYBOT_CHANNELS, and in threads storybot opened (with
STORYBOT_THREADS on), where a follow-up of pronouns ('who is she?') is read
with the thread's earlier question (bot.core.followup decides, as in the chat).
The cog only glues the core (``bot.answer``) to the renderer and the view.
"""
from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

import discord
from discord import app_commands
from discord.ext import commands

from .. import render
from ...core.followup import Reading, read_with
from ...core.models import Answer
from ..client import DEFER_AFTER, NO_PINGS, StoryBot
from ..views import answer_view

log = logging.getLogger(__name__)
DEFER_BUDGET = 2.0  # Discord allows 3 s for the first response; keep a second for the network


class Ask(commands.Cog):
    def __init__(self, bot: StoryBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Ask storybot", callback=self.ask_message)
        bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="ask")
    @app_commands.describe(question="What you want to know about the story",
                           private="Show the answer only to you (default: everyone in the channel sees it)")
    async def ask(self, interaction: discord.Interaction, question: str, private: bool = False) -> None:
        """Ask a question about the story; the answer shows the passages it comes from."""
        await self.answer_interaction(interaction, question, private=private)

    async def ask_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The message menu 'Ask storybot': answer the question in someone's message."""
        if not message.content.strip():
            await interaction.response.send_message(
                "That message has no text I can read as a question.", ephemeral=True, allowed_mentions=NO_PINGS)
            return
        await self.answer_interaction(interaction, message.content)

    async def answer_interaction(self, interaction: discord.Interaction, question: str, *, private: bool = False) -> None:
        """Answer within Discord's 3 s: reply directly when the core is quick, else defer and follow up.

        Replying directly costs one request and shows the answer at once; the
        defer is only needed when a big index or a burst makes the answer late.
        """
        bot = self.bot
        retry = await bot.cooldown(interaction.user.id)
        if retry is not None:
            await interaction.response.send_message(render.cooldown_text(retry), ephemeral=True,
                                                    allowed_mentions=NO_PINGS)
            return
        asking = await self._asking(question, interaction.guild_id, interaction.channel)
        # Under a burst the answer will wait behind others: acknowledge at once, so every
        # interaction is acknowledged within Discord's 3 s however long the queue is.
        busy = bot.busy()
        task = asyncio.ensure_future(bot.answer(question, story=asking.story, context=asking.reading.context))
        age = max(0.0, (discord.utils.utcnow() - interaction.created_at).total_seconds())
        wait = 0.0 if busy else max(0.0, min(DEFER_AFTER, DEFER_BUDGET - age))
        if wait > 0:
            await asyncio.wait({task}, timeout=wait)
        deferred = not task.done()
        if deferred:
            try:
                await interaction.response.defer(ephemeral=private, thinking=True)
            except BaseException:
                task.add_done_callback(_quiet)  # the answer is no longer wanted; don't leave its error unread
                raise
        answer, first_page = await task
        buttons = asking.buttons(answer)
        sent: discord.Message | None
        if deferred:
            sent = await interaction.followup.send(embed=first_page, ephemeral=private,
                                                   allowed_mentions=NO_PINGS, wait=True, **buttons)
        else:
            callback = await interaction.response.send_message(embed=first_page, ephemeral=private,
                                                               allowed_mentions=NO_PINGS, **buttons)
            sent = getattr(callback, "resource", None)
        asked = answer.question or question
        in_thread = self._remember_in_thread(interaction.channel, asking, answer, asked)
        if (not in_thread and bot.settings.threads and not private and isinstance(interaction.channel, discord.TextChannel)
                and answer.hits and isinstance(sent, discord.Message)):
            # As for a question in a message: a thread on the answer, where follow-ups are read with it.
            # (Through the channel: a follow-up's WebhookMessage carries no guild to open a thread with.)
            thread = await self._open_thread(interaction.channel.get_partial_message(sent.id), asked)
            if thread is not None:
                bot.remember_thread(thread.id, Reading(asked))  # a new thread: its first question, read alone

    async def _asking(self, question: str, guild_id: int | None, channel: object) -> "Asking":
        """How ``question`` will be asked in ``channel``: read with the thread's last question when it is
        a follow-up of pronouns (bot.core.followup decides), of the story chosen there."""
        earlier = self.bot.thread_context(channel)
        return Asking(read_with(question, earlier), earlier, await self.bot.story_for(guild_id, channel))

    def _remember_in_thread(self, channel: object, asking: "Asking", answer: Answer, asked: str) -> bool:
        """In a thread storybot follows, keep this question as the one the next follow-up is read with;
        True when it did. A question that found nothing is no context for the next one (as in the chat)."""
        if asking.earlier is None or not answer.hits or not isinstance(channel, discord.Thread):
            return False
        self.bot.remember_thread(channel.id, asking.reading.answered_as(asked))
        return True

    # plain messages -------------------------------------------------------------------------------

    def _is_question(self, message: discord.Message) -> bool:
        bot = self.bot
        if bot.user is None or message.author.bot or message.webhook_id is not None:
            return False
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return False
        if message.guild is None:
            return True
        if any(u.id == bot.user.id for u in message.mentions):
            return True
        channel = message.channel
        channels = bot.settings.channels
        if channel.id in channels or (isinstance(channel, discord.Thread) and channel.parent_id in channels):
            return True
        return bot.thread_context(channel) is not None

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if not self._is_question(message):
            return
        bot = self.bot
        assert bot.user is not None
        question = re.sub(rf"<@!?{bot.user.id}>", " ", message.content).strip()
        try:
            await self._answer_message(message, question)
        except Exception:
            log.exception("could not answer message %s from user %s in channel %s (question %r)",
                          message.id, message.author.id, message.channel.id, question)
            try:
                await message.channel.send(
                    "Sorry, something went wrong on my side. The operator has the details; please try again.",
                    reference=message.to_reference(fail_if_not_exists=False), mention_author=False,
                    allowed_mentions=NO_PINGS)
            except (discord.HTTPException, OSError, asyncio.TimeoutError) as exc:
                log.warning("could not tell user %s about the error either: %s", message.author.id, exc)

    async def _answer_message(self, message: discord.Message, question: str) -> None:
        bot = self.bot
        retry = await bot.cooldown(message.author.id)
        if retry is not None:
            if bot.should_warn(message.author.id, retry):
                await self._send(message, content=render.cooldown_text(retry))
            return
        channel = message.channel
        asking = await self._asking(question, message.guild.id if message.guild else None, channel)
        answer, first_page = await bot.answer(question, story=asking.story, context=asking.reading.context)
        buttons = asking.buttons(answer)
        self._remember_in_thread(channel, asking, answer, answer.question or question)
        if bot.settings.threads and isinstance(channel, discord.TextChannel) and answer.hits:
            thread = await self._open_thread(message, answer.question or question)
            if thread is not None:
                bot.remember_thread(thread.id, Reading(answer.question or question))
                await thread.send(embed=first_page, allowed_mentions=NO_PINGS, **buttons)
                return
        await self._send(message, embed=first_page, **buttons)

    async def _open_thread(self, message: discord.Message | discord.PartialMessage,
                           question: str) -> discord.Thread | None:
        try:
            return await message.create_thread(name=render.thread_name(question), auto_archive_duration=1440)
        except (discord.HTTPException, ValueError) as exc:  # no permission, or threads off in this channel
            log.warning("could not open a thread in channel %s (%s); answering in the channel", message.channel.id, exc)
            return None

    async def _send(self, message: discord.Message, **kwargs) -> None:
        """Reply to ``message`` without pinging; a deleted message or missing permission is logged, not raised."""
        try:
            await message.channel.send(reference=message.to_reference(fail_if_not_exists=False),
                                       mention_author=False, allowed_mentions=NO_PINGS, **kwargs)
        except discord.Forbidden as exc:
            log.warning("no permission to reply in channel %s to message %s (%s)", message.channel.id, message.id, exc)
        except discord.NotFound as exc:
            log.warning("channel %s is gone; could not reply to message %s (%s)", message.channel.id, message.id, exc)


@dataclass(frozen=True)
class Asking:
    """A question about to be answered: how it is read, the thread's question before it, the story."""

    reading: Reading
    earlier: Reading | None  # the thread's last question (None outside a thread storybot follows)
    story: str

    def buttons(self, answer: Answer) -> dict[str, discord.ui.View]:
        """The keyword that puts the answer's buttons on a message (none for a notice)."""
        view = answer_view(answer, self.story)
        return {"view": view} if view is not None else {}


def _quiet(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(Ask(bot))
