"""Reloading the stories the Discord bot serves: asked for in one process, done in every one.

``/reload`` (any process) announces a reload through the shared state
(``bot.state``); every process serving the bot, the asking one included,
rebuilds the story off the event loop and swaps it in, and the asker is told
what its own process made of it. SIGHUP reloads this process only. A story
that fails to build keeps its previous version.
"""
from __future__ import annotations

import asyncio
import logging

from ..core.library import Library
from ..shared_state import SharedState
from .loading import freeze_heap
from .recent import RecentAnswers

log = logging.getLogger(__name__)

RELOAD_WAIT = 600.0  # seconds /reload waits for this process's reload before saying it is still going


class StoryReloads:
    """The reload half of :class:`~.client.StoryBot` (a mixin: the methods the cogs, ``run.py`` and the
    shared state call on the bot). It uses the bot's ``state``, ``library`` and ``recent`` answers;
    ``StoryBot.__init__`` makes its waiters and lock."""

    state: SharedState
    library: Library | None
    recent: RecentAnswers
    _reload_waiters: list[tuple[str | None, asyncio.Future[str]]]
    _reload_lock: asyncio.Lock

    async def request_reload(self, story: str | None, source: str) -> str:
        """Announce a reload to every process (``bot.state``) and return what this process made of it."""
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        waiter = (story, done)
        self._reload_waiters.append(waiter)
        try:
            log.info("reload of %s requested (%s)", story or "every story", source)
            await self.state.announce_reload(story)
            return await asyncio.wait_for(asyncio.shield(done), RELOAD_WAIT)
        except asyncio.TimeoutError:
            return "The reload was announced but has not finished here yet; the log will say when it does."
        finally:
            self._reload_waiters.remove(waiter)

    async def _reload_announced(self, story: str | None) -> None:
        """A reload announced by any process (this one included): do it here, then wake who asked."""
        ok, text = await self.reload_stories(story, "announced")
        for wanted, done in list(self._reload_waiters):
            if wanted == story and not done.done():
                done.set_result(text)

    async def reload_story(self, source: str) -> tuple[bool, str]:
        """Reload every story in this process only (SIGHUP)."""
        return await self.reload_stories(None, source)

    async def reload_stories(self, story: str | None, source: str) -> tuple[bool, str]:
        """Build ``story`` (``None``: every loaded one) again off the loop and swap it in; a story that
        fails keeps its previous version and the text says why. True when nothing failed."""
        assert self.library is not None
        async with self._reload_lock:
            results = await asyncio.to_thread(self.library.reload, story)
            self.recent.forget()  # their stories were replaced (a press would miss them anyway); free them now
            freeze_heap()
        ok = all(r.ok for r in results)
        text = "\n".join(r.text for r in results) or "No story is loaded yet: each loads when first asked about."
        log.log(logging.INFO if ok else logging.ERROR, "reload (%s): %s", source, text.replace("\n", " | "))
        return ok, text
