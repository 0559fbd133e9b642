"""The default :class:`~bot.shared_state.SharedState`: one process, one SQLite file.

Votes go to the feedback file (:class:`bot.feedback.FeedbackStore`), story
choices to a table in the same file, so both survive a restart; cooldowns are
counted in this process's memory, which is exact when one process serves every
user; a reload announcement runs this process's reload at once. Nothing here
imports discord.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from .feedback import FeedbackStore, Vote, connect
from .shared_state import ReloadCallback, chosen_story

log = logging.getLogger(__name__)

_CHOICES = """
CREATE TABLE IF NOT EXISTS story_choices (
    guild_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,  -- 0: the whole server
    story TEXT NOT NULL,
    PRIMARY KEY (guild_id, channel_id)
);
"""
VOTE_ATTEMPTS = 3  # a locked or briefly unwritable file is retried this often before the vote is reported lost
VOTE_RETRY_DELAY = 0.2  # seconds, doubled after each attempt
MAX_TRACKED_USERS = 10_000  # past this, users whose window has passed are forgotten


class SlidingWindow:
    """At most ``rate`` events per ``per`` seconds per key, over any window of that length.

    Each key keeps the times of its last ``rate`` events; an event is allowed
    when the oldest of them is at least ``per`` seconds old. Unlike a fixed
    window, a burst across a window boundary cannot get twice the rate.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._events: dict[int, deque[float]] = {}

    def hit(self, key: int, rate: int, per: float) -> float | None:
        """Count one event for ``key``: ``None`` if allowed, else the seconds until one is."""
        now = self.clock()
        times = self._events.get(key)
        if times is None:
            times = self._events[key] = deque()
        while times and now - times[0] >= per:
            times.popleft()
        if len(times) >= rate:
            return max(0.0, per - (now - times[0]))
        times.append(now)
        if len(self._events) > MAX_TRACKED_USERS:
            self._forget_idle(now, per)
        return None

    def _forget_idle(self, now: float, per: float) -> None:
        self._events = {k: t for k, t in self._events.items() if t and now - t[-1] < per}


class LocalState:
    """Votes and story choices in the SQLite file ``db_path``; cooldowns and reloads in this process.

    A story choice is read from memory (filled from the file at :meth:`start`)
    and written through to the file, so answering a question never waits on
    the disk. When the file cannot be opened, choices still work for the life
    of the process and the cause is logged once.
    """

    def __init__(self, db_path: Path | str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.db_path = Path(db_path)
        self.feedback = FeedbackStore(self.db_path)
        self.cooldowns = SlidingWindow(clock)
        self._choices: dict[tuple[int, int], str] = {}
        self._callbacks: list[ReloadCallback] = []
        self._started = False
        self._prepared = False  # the file's tables made (at start, or by the first write after a failed start)

    # life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        try:
            self._choices = await asyncio.to_thread(self._read_choices)
        except (sqlite3.Error, OSError) as exc:
            log.error("cannot read story choices from %s (%s); choices made now last until the bot stops",
                      self.db_path, exc)

    async def close(self) -> None:
        self._started = False

    # votes ----------------------------------------------------------------------------------

    async def record_vote(self, vote: Vote) -> None:
        delay = VOTE_RETRY_DELAY
        for attempt in range(1, VOTE_ATTEMPTS + 1):
            try:
                await asyncio.to_thread(self.feedback.record, vote)
                return
            except (sqlite3.OperationalError, OSError) as exc:
                if attempt == VOTE_ATTEMPTS:
                    raise
                log.warning("could not record a vote (attempt %d of %d): %s; retrying", attempt, VOTE_ATTEMPTS, exc)
                await asyncio.sleep(delay)
                delay *= 2

    # cooldowns ------------------------------------------------------------------------------

    async def hit_cooldown(self, user_id: int, *, rate: int, per: float) -> float | None:
        return self.cooldowns.hit(user_id, rate, per)

    # story choices --------------------------------------------------------------------------

    async def story_choice(self, guild_id: int | None, channel_id: int | None) -> str | None:
        return chosen_story(self._choices, guild_id, channel_id)

    async def set_story_choice(self, guild_id: int, channel_id: int | None, story: str | None) -> None:
        key = (guild_id, channel_id or 0)
        if story is None:
            self._choices.pop(key, None)
        else:
            self._choices[key] = story
        try:
            await asyncio.to_thread(self._write_choice, key, story)
        except (sqlite3.Error, OSError) as exc:
            log.error("could not save the story choice %r for server %s channel %s in %s (%s); "
                      "it holds until the bot stops", story, guild_id, channel_id, self.db_path, exc)

    # reloads --------------------------------------------------------------------------------

    async def announce_reload(self, story: str | None) -> None:
        for callback in list(self._callbacks):
            await callback(story)

    def on_reload(self, callback: ReloadCallback) -> None:
        self._callbacks.append(callback)

    # the file -------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """A connection to the file; its tables are made once, by the first call (normally :meth:`start`)."""
        if not self._prepared:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.db_path)
        if self._prepared:
            return conn
        try:  # once: WAL, the votes table and its migration (the feedback store's), the choices table
            self.feedback.open(conn)
            conn.execute(_CHOICES)
        except BaseException:
            conn.close()
            raise
        self._prepared = True
        return conn

    def _read_choices(self) -> dict[tuple[int, int], str]:
        conn = self._connect()
        try:
            rows = conn.execute("SELECT guild_id, channel_id, story FROM story_choices").fetchall()
        finally:
            conn.close()
        return {(int(g), int(c)): str(s) for g, c, s in rows}

    def _write_choice(self, key: tuple[int, int], story: str | None) -> None:
        conn = self._connect()
        try:
            with conn:
                if story is None:
                    conn.execute("DELETE FROM story_choices WHERE guild_id = ? AND channel_id = ?", key)
                else:
                    conn.execute("INSERT OR REPLACE INTO story_choices (guild_id, channel_id, story) VALUES (?, ?, ?)",
                                 (*key, story))
        finally:
            conn.close()
