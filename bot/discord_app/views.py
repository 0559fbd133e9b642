"""The buttons under an answer: 'More passages', 'Helpful', 'Not helpful'.

A view holds the Answer it was made for (in memory, for ``TIMEOUT`` seconds):
paging re-renders the same Answer, and a vote is written to the feedback
store with the question and the passages that were shown.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import discord

from ..core.models import Answer
from ..feedback import Vote
from ..shared_state import SharedState
from . import render

if TYPE_CHECKING:
    from discord.ui import Item

log = logging.getLogger(__name__)
TIMEOUT = 30 * 60.0  # buttons stop working after half an hour; the answer stays
MAX_LIVE = 1000  # at most this many answers keep working buttons; under a flood the oldest stop first
PREFIX = "storybot:"  # every button's custom_id starts with it, then the action, then the answer id


class LiveViews:
    """The answer views whose buttons still work, oldest first, at most ``limit``.

    Each live view holds its Answer and a discord.py timer task for ``TIMEOUT``;
    without a bound a flood of questions would hold thousands of both for half
    an hour. A button on an answer that is no longer here gets a short
    'expired' note (``StoryBot.on_interaction``) instead of "interaction failed".
    """

    def __init__(self, limit: int = MAX_LIVE) -> None:
        self.limit = limit
        self._views: OrderedDict[str, AnswerView] = OrderedDict()

    def add(self, view: "AnswerView") -> None:
        self._views[view.answer_id] = view
        while len(self._views) > max(1, self.limit):
            _, oldest = self._views.popitem(last=False)
            oldest.stop()

    def discard(self, view: "AnswerView") -> None:
        if self._views.get(view.answer_id) is view:
            del self._views[view.answer_id]

    def __contains__(self, answer_id: object) -> bool:
        return answer_id in self._views

    def __len__(self) -> int:
        return len(self._views)


class AnswerView(discord.ui.View):
    """Paging and feedback for one answer."""

    def __init__(self, answer: Answer, state: SharedState, *, timeout: float | None = TIMEOUT,
                 live: LiveViews | None = None, first_page: discord.Embed | None = None) -> None:
        super().__init__(timeout=timeout)
        self.answer = answer
        self._first_page = first_page  # page 0, rendered off the event loop with the answer
        self.state = state
        self.live = live
        self.answer_id = uuid.uuid4().hex[:16]
        self.page = 0
        self.seen = 0  # the furthest page anyone has looked at
        self.total = render.pages(answer)
        self.more.custom_id = f"{PREFIX}more:{self.answer_id}"
        self.helpful.custom_id = f"{PREFIX}yes:{self.answer_id}"
        self.not_helpful.custom_id = f"{PREFIX}no:{self.answer_id}"
        self._label()
        if live is not None:
            live.add(self)

    def stop(self) -> None:
        super().stop()
        if self.live is not None:
            self.live.discard(self)

    async def on_timeout(self) -> None:
        if self.live is not None:
            self.live.discard(self)

    def embed(self) -> discord.Embed:
        first, self._first_page = self._first_page, None  # sent once; a live view keeps only its Answer
        if self.page == 0 and first is not None:
            return first
        return render.answer_embed(self.answer, self.page)

    def shown_labels(self) -> tuple[str, ...]:
        """Citation labels of every passage shown so far, in rank order."""
        hits = [h for p in range(self.seen + 1) for h in render.page_hits(self.answer, p)]
        return tuple(h.passage.citation.label() for h in hits)

    def _label(self) -> None:
        self.more.disabled = self.total <= 1
        self.more.label = "Back to the top" if self.total > 1 and self.page == self.total - 1 else "More passages"

    @discord.ui.button(label="More passages", style=discord.ButtonStyle.secondary)
    async def more(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.page = (self.page + 1) % self.total
        self.seen = max(self.seen, self.page)
        self._label()
        await interaction.response.edit_message(embed=self.embed(), view=self,
                                                allowed_mentions=discord.AllowedMentions.none())

    @discord.ui.button(label="Helpful", style=discord.ButtonStyle.success, emoji="\N{THUMBS UP SIGN}")
    async def helpful(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._vote(interaction, True)

    @discord.ui.button(label="Not helpful", style=discord.ButtonStyle.danger, emoji="\N{THUMBS DOWN SIGN}")
    async def not_helpful(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._vote(interaction, False)

    async def _vote(self, interaction: discord.Interaction, helpful: bool) -> None:
        vote = Vote(
            answer_id=self.answer_id,
            voter=interaction.user.id,
            helpful=helpful,
            question=self.answer.question,
            confidence=self.answer.confidence,
            answered=self.answer.answered,
            passages=self.shown_labels(),
            context=self.answer.context,
        )
        try:
            await self.state.record_vote(vote)
        except Exception:
            log.exception("could not record a vote (answer %s, question %r)", self.answer_id, self.answer.question)
            text = "Sorry, I couldn't record that just now; the operator will see why in the log."
        else:
            text = "Thanks, noted as helpful." if helpful else "Thanks, noted as not helpful: the operator will look at it."
        await interaction.response.send_message(render.content(text), ephemeral=True,
                                                allowed_mentions=discord.AllowedMentions.none())

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: Item[Any]) -> None:
        log.error("button %r failed on answer %s (question %r, user %s)", getattr(item, "custom_id", item),
                  self.answer_id, self.answer.question, interaction.user.id, exc_info=error)
        from .client import tell_user_something_went_wrong

        await tell_user_something_went_wrong(interaction)
