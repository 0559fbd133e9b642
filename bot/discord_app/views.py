"""The buttons under an answer: 'More passages', 'Helpful', 'Not helpful', working for as long as Discord shows it.

Each button is a discord.py ``ui.DynamicItem``: what it needs lives in its
custom id (the action, the page shown, the furthest page anyone has seen, the
story), and the question and its earlier question are read back from the
answer's embed. Pressing one takes the answer from the bot's recent answers
(``bot.recent``), or asks the story again when it is not there (answers are
deterministic for a story's version), and renders the page asked for, or
records the vote with the passages that were shown; the vote's answer id is
the message's id. Nothing needs to be held in memory per answer, so the
buttons survive restarts, a flood of questions, and work the same whichever
process receives the press. A press counts in the presser's cooldown like a
question. The classes are registered once in ``setup_hook``
(``bot.add_dynamic_items``).

A notice that is not an answer (an empty question, a story that cannot be
served) gets no buttons: there is nothing to page through or judge.
"""
from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from ..core.library import story_key
from ..core.models import Answer
from ..feedback import Vote
from . import limits, readback, render
from .errors import NO_PINGS, tell_user_something_went_wrong

if TYPE_CHECKING:
    from .client import StoryBot

log = logging.getLogger(__name__)
PREFIX = "storybot:"  # every button's custom_id starts with it
_STORY = r"(?P<story>[A-Za-z0-9_.\- ]{1,64}|~[0-9a-f]{16})"
MORE_TEMPLATE = re.compile(rf"storybot:more:(?P<page>\d{{1,2}}):(?P<seen>\d{{1,2}}):{_STORY}")
VOTE_TEMPLATE = re.compile(rf"storybot:(?P<verdict>yes|no):(?P<page>\d{{1,2}}):(?P<seen>\d{{1,2}}):{_STORY}")
RESPOND_WITHIN = 1.5  # seconds: answer the press directly when the work is this quick, else defer first


def answer_view(answer: Answer, story: str, page: int = 0, seen: int = 0) -> discord.ui.View | None:
    """The buttons for ``answer`` of ``story`` showing ``page``; None for a notice that is not an answer."""
    if not answer.hits:
        return None
    total = render.pages(answer)
    key = story_key(story)
    view = discord.ui.View(timeout=None)  # fully dynamic: discord.py keeps nothing of it after sending
    view.add_item(MorePassages(key, page, seen, total))
    view.add_item(VoteButton(key, True, page, seen))
    view.add_item(VoteButton(key, False, page, seen))
    return view


class MorePassages(discord.ui.DynamicItem[discord.ui.Button], template=MORE_TEMPLATE):
    """The next page of passages (after the last, back to the top)."""

    def __init__(self, story: str, page: int, seen: int, total: int = 2) -> None:
        last = total > 1 and page % total == total - 1
        super().__init__(discord.ui.Button(
            label="Back to the top" if last else "More passages", style=discord.ButtonStyle.secondary,
            disabled=total <= 1, custom_id=f"{PREFIX}more:{page}:{seen}:{story}"))
        self.story, self.page, self.seen = story, page, seen

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> "MorePassages":
        return cls(match["story"], int(match["page"]), int(match["seen"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: StoryBot = interaction.client  # type: ignore[assignment]
        if await _cooled_down(bot, interaction):
            return

        async def next_page() -> tuple[discord.Embed, discord.ui.View | None] | str:
            found = await _answer_shown(bot, interaction, self.story)
            if isinstance(found, str):
                return found
            name, answer = found
            page = (self.page + 1) % render.pages(answer)
            embed = render.answer_embed(answer, page, story=name)
            return embed, answer_view(answer, name, page, max(self.seen, page))

        await _respond(interaction, next_page, edit=True, what=f"more passages ({self.custom_id})")


class VoteButton(discord.ui.DynamicItem[discord.ui.Button], template=VOTE_TEMPLATE):
    """'Helpful' or 'Not helpful': one vote per person per answer, with what they were shown."""

    def __init__(self, story: str, helpful: bool, page: int, seen: int) -> None:
        verdict = "yes" if helpful else "no"
        super().__init__(discord.ui.Button(
            label="Helpful" if helpful else "Not helpful",
            style=discord.ButtonStyle.success if helpful else discord.ButtonStyle.danger,
            emoji="\N{THUMBS UP SIGN}" if helpful else "\N{THUMBS DOWN SIGN}",
            custom_id=f"{PREFIX}{verdict}:{page}:{seen}:{story}"))
        self.story, self.helpful, self.page, self.seen = story, helpful, page, seen

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> "VoteButton":
        return cls(match["story"], match["verdict"] == "yes", int(match["page"]), int(match["seen"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: StoryBot = interaction.client  # type: ignore[assignment]
        if await _cooled_down(bot, interaction):
            return

        async def vote() -> str:
            made = await self._vote(bot, interaction)
            if isinstance(made, str):
                return made
            try:
                await bot.state.record_vote(made)
            except Exception:
                log.exception("could not record a vote (answer %s, question %r)", made.answer_id, made.question)
                return "Sorry, I couldn't record that just now; the operator will see why in the log."
            if self.helpful:
                return "Thanks, noted as helpful."
            return "Thanks, noted as not helpful: the operator will look at it."

        await _respond(interaction, vote, edit=False, what=f"vote ({self.custom_id})")

    async def _vote(self, bot: "StoryBot", interaction: discord.Interaction) -> Vote | str:
        """The vote, with the question and the passages shown on pages 0 to ``seen``, as labels.

        The answer is asked again of the story. Should the story have changed
        since (a reload), the passages on the message are not those of the
        answer asked again: then the labels come from the message itself.
        """
        message = interaction.message
        embed = message.embeds[0] if message is not None and message.embeds else None
        found = await _answer_shown(bot, interaction, self.story)
        if isinstance(found, str):
            return found
        name, answer = found
        total = render.pages(answer)
        again = [(h.rank, h.passage.citation.article_number, h.passage.citation.paragraph)
                 for h in render.page_hits(answer, self.page)]
        on_message = readback.shown_passages(embed) if embed is not None else []
        if again == on_message:
            seen = min(self.seen, total - 1)
            labels = tuple(h.passage.citation.label() for p in range(seen + 1) for h in render.page_hits(answer, p))
        else:
            log.warning("vote on answer %s: story %s changed since it was shown; recording the passages on the "
                        "message only", getattr(message, "id", "?"), name)
            labels = tuple(f"article {a}, para {p}" for _, a, p in on_message)
        return Vote(
            answer_id=str(message.id) if message is not None else f"interaction-{interaction.id}",
            voter=interaction.user.id,
            helpful=self.helpful,
            question=answer.question,
            confidence=answer.confidence,
            answered=answer.answered,
            passages=labels,
            context=answer.context,
            story=name,
        )


DYNAMIC_ITEMS = (MorePassages, VoteButton)


def is_ours(custom_id: str) -> bool:
    """True for a custom id one of today's buttons can handle."""
    return any(t.fullmatch(custom_id) for t in (MORE_TEMPLATE, VOTE_TEMPLATE))


async def _answer_shown(bot: "StoryBot", interaction: discord.Interaction, key: str) -> tuple[str, Answer] | str:
    """The story's name and the answer to the question on the message (remembered, or asked again),
    or why not (a note)."""
    assert bot.library is not None
    name = bot.library.by_key(key)
    if name is None:
        return "The story this answer came from is no longer served. Ask again with /ask."
    message = interaction.message
    embed = message.embeds[0] if message is not None and message.embeds else None
    question = readback.question_of(embed) if embed is not None else None
    if question is None:
        return "I can't read the question on that message any more. Ask again with /ask."
    answer = await bot.answer_again(question, story=name, context=readback.context_of(embed))
    if not answer.hits:  # the story cannot be served now (the notice says why), or no longer matches
        return answer.notice or "That story no longer has passages for this question. Ask again with /ask."
    return name, answer


async def _cooled_down(bot: "StoryBot", interaction: discord.Interaction) -> bool:
    """Count the press in the presser's cooldown; when over it, tell them (privately) and return True.

    A press may cost an answer (one not among the recent ones), so it is
    counted like a question: a flood of presses is held back like a flood of
    questions.
    """
    try:
        retry = await bot.cooldown(interaction.user.id)
        if retry is None:
            return False
        await interaction.response.send_message(render.cooldown_text(retry), ephemeral=True,
                                                allowed_mentions=NO_PINGS)
    except Exception as exc:
        log.error("button press on message %s (user %s): cooldown check failed", getattr(interaction.message, "id", "?"),
                  interaction.user.id, exc_info=exc)
        await tell_user_something_went_wrong(interaction)
    return True


async def _respond(interaction: discord.Interaction, work, *, edit: bool, what: str) -> None:
    """Run ``work`` and answer the press: directly when quick, else after deferring (Discord's 3 s).

    ``work`` returns the new page (embed and view) to edit the message with, or
    a text for the presser alone. An error is logged with its context and the
    presser gets a short private note.
    """
    task = asyncio.ensure_future(work())
    try:
        done, _ = await asyncio.wait({task}, timeout=RESPOND_WITHIN)
        if not done:
            if edit:
                await interaction.response.defer()
            else:
                await interaction.response.defer(ephemeral=True, thinking=True)
        result = await task
        if isinstance(result, str):
            text = limits.content(result)
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
            else:
                await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
            return
        embed, view = result
        if interaction.response.is_done():
            await interaction.edit_original_response(embed=embed, view=view, allowed_mentions=NO_PINGS)
        else:
            await interaction.response.edit_message(embed=embed, view=view, allowed_mentions=NO_PINGS)
    except Exception as exc:
        if not task.done():
            task.cancel()
        log.error("button %s failed on message %s (user %s)", what, getattr(interaction.message, "id", "?"),
                  interaction.user.id, exc_info=exc)
        await tell_user_something_went_wrong(interaction)
