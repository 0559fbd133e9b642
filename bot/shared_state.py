"""What the bot's processes share: votes, cooldowns, story choices and reloads.

One process (the default) keeps these in a local SQLite file and in memory
(:class:`LocalState`, ``bot/local_state.py``). Several processes, on one host or
many, share them through PostgreSQL when ``STORYBOT_DATABASE_URL`` is set
(:class:`PostgresState`, ``bot/postgres_state.py``, the optional ``postgres``
extra). The front ends speak only to this protocol, so they never know which
backend serves them. No discord import here.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from .feedback import Vote

if TYPE_CHECKING:
    from .settings import Settings

ReloadCallback = Callable[[str | None], Awaitable[None]]
"""Called with the story to reload, or ``None`` for every story."""


def chosen_story(choices: Mapping[tuple[int, int], str], guild_id: int | None, channel_id: int | None) -> str | None:
    """The story for a channel from ``choices`` keyed (server, channel), where channel 0 is the whole server:
    the channel's own choice wins over the server's; a DM (no server) has none."""
    if guild_id is None:
        return None
    if channel_id is not None and (guild_id, channel_id) in choices:
        return choices[(guild_id, channel_id)]
    return choices.get((guild_id, 0))


class SharedState(Protocol):
    """The state every bot process must agree on."""

    async def start(self) -> None:
        """Open connections and begin listening for reload broadcasts."""

    async def close(self) -> None:
        """Stop listening and release connections; safe to call twice."""

    async def record_vote(self, vote: Vote) -> None:
        """Store ``vote`` exactly once (a second vote by the same person on the same answer replaces it).

        Must not lose the vote when the store is briefly unreachable: retry or spool it.
        """

    async def hit_cooldown(self, user_id: int, *, rate: int, per: float) -> float | None:
        """Count one question by ``user_id``: ``None`` if allowed, else the seconds until one is.

        At most ``rate`` questions per ``per`` seconds per user, counted over every process.
        """

    async def story_choice(self, guild_id: int | None, channel_id: int | None) -> str | None:
        """The story chosen for the channel, else for the server, else ``None`` (the default story)."""

    async def set_story_choice(self, guild_id: int, channel_id: int | None, story: str | None) -> None:
        """Choose ``story`` for a whole server (``channel_id`` None) or one channel; ``None`` clears it."""

    async def announce_reload(self, story: str | None) -> None:
        """Ask every process, this one included, to reload ``story`` (``None``: every story)."""

    def on_reload(self, callback: ReloadCallback) -> None:
        """Register the coroutine that performs a reload announced by any process."""


def open_state(settings: "Settings") -> SharedState:
    """The backend the settings ask for: the one place a front end's state is made.

    :class:`~bot.postgres_state.PostgresState` when ``STORYBOT_DATABASE_URL`` is set (psycopg is
    imported only then, so the default install needs nothing more), else
    :class:`~bot.local_state.LocalState` on ``settings.feedback_db``.
    """
    if settings.database_url:
        try:
            from .postgres_state import PostgresState
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("psycopg"):
                raise
            from .settings import SettingsError

            raise SettingsError("STORYBOT_DATABASE_URL is set but psycopg is not installed: "
                                "pip install -e '.[postgres]' (or unset it to keep state in SQLite)") from None

        spool = settings.feedback_db.with_name(settings.feedback_db.name + ".spool")
        return PostgresState(settings.database_url, spool=spool)
    from .local_state import LocalState

    return LocalState(settings.feedback_db)
