"""The Discord client: start-up, cooldowns, answering off the loop, the tree error handler, reload.

``StoryBot.setup_hook`` starts the shared state (``bot.state``), opens the
stories (``bot.library``, see :mod:`.loading`) and loads the default one off the event loop,
registers the answer buttons, loads the cogs one by one (a broken cog is
logged and skipped) and syncs the commands: to ``STORYBOT_GUILD`` when set
(instant), else globally. Running the process (log in, retry, signals) is
``run.py``.
"""
from __future__ import annotations

import asyncio
import functools
import gc
import logging
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from typing import TypeVar

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from ..core.followup import Reading
from ..core.library import Library, StoryUnavailable
from ..core.models import Answer
from ..core.story import CorpusError, Story
from ..settings import DEFAULT_API_BASE, Settings
from ..shared_state import SharedState, open_state
from . import readback, render
from .errors import EXPIRED_INTERACTION, NO_PINGS, AdminOnly, tell_user_something_went_wrong
from .loading import freeze_heap, open_library
from .recent import RecentAnswers
from .reloading import StoryReloads
from .views import DYNAMIC_ITEMS, is_ours
from .views import PREFIX as BUTTON_PREFIX

log = logging.getLogger(__name__)

EXIT_OK, EXIT_USAGE = 0, 2
COGS = ("ask", "sources", "story", "help", "admin")
ASK_K = render.PER_PAGE * render.PAGES
DEFER_AFTER = 1.0  # seconds: answer directly when the core is this quick, else defer first
# Answers are CPU work under the GIL: more threads than cores add no speed, only contention that
# keeps the event loop (acknowledgements, heartbeats) waiting for the GIL. One per core, the loop on the other.
ANSWER_WORKERS = 1
RECENT_ANSWERS = 256  # answers kept for their buttons (a few KB each): a press then needs no new answer
_DEFAULT_GATEWAY = DiscordWebSocket.DEFAULT_GATEWAY
_T = TypeVar("_T")


def point_discord_py_at(api_base: str) -> None:
    """Send discord.py's REST calls (interactions and webhooks included) to ``api_base``.

    ``Route.BASE`` is process-wide in discord.py, so this is too: one bot per process.
    """
    Route.BASE = api_base.rstrip("/")
    if api_base.rstrip("/") == DEFAULT_API_BASE:
        DiscordWebSocket.DEFAULT_GATEWAY = _DEFAULT_GATEWAY


class StoryBot(StoryReloads, commands.Bot):
    """storybot on Discord. ``story`` may be given (tests share one); else setup_hook loads it.

    Reloading the stories (``/reload``, SIGHUP, a reload announced by another process) is
    :class:`~.reloading.StoryReloads`."""

    def __init__(self, settings: Settings, *, story: Story | None = None, state: SharedState | None = None) -> None:
        intents = discord.Intents.default()
        # Message content is privileged: ask for it only when a feature needs to read messages
        # that are neither mentions nor DMs (listed channels, follow-ups in threads).
        intents.message_content = bool(settings.channels) or settings.threads
        intents.presences = intents.members = False
        shards = {}
        if isinstance(self, commands.AutoShardedBot):  # ShardedStoryBot: this process's group of shards
            shards = dict(shard_count=settings.shard_count,
                          shard_ids=list(settings.shard_ids) if settings.shard_ids else None)
        super().__init__(
            command_prefix=commands.when_mentioned,  # unused: no text commands, on_message is ours
            help_command=None,
            intents=intents,
            allowed_mentions=NO_PINGS,
            max_messages=None,  # nothing needs the message cache; saves memory on busy servers
            **shards,
        )
        self.settings = settings
        self._preloaded = story  # tests share one built story; else setup_hook loads the default
        self.library: Library | None = None  # the stories served; made in setup_hook (a bad folder stops start-up)
        # Votes, cooldowns, story choices and reloads: whatever the processes serving this bot share.
        self.state: SharedState = state if state is not None else open_state(settings)
        self._reload_waiters: list[tuple[str | None, asyncio.Future[str]]] = []
        self._warned: dict[int, float] = {}  # user id -> until when a cooldown notice was given
        self._reload_lock = asyncio.Lock()
        self.thread_questions: OrderedDict[int, Reading] = OrderedDict()  # thread id -> its latest question
        self.failed_cogs: dict[str, str] = {}
        self._answer_pool = ThreadPoolExecutor(ANSWER_WORKERS, thread_name_prefix="storybot-answer")
        self.answers_in_flight = 0
        self.answer_seconds = 0.05  # recent time one answer takes on a worker (updated as they come)
        self.recent = RecentAnswers(RECENT_ANSWERS)  # the answers shown lately, for their buttons

    # The gateway connection: discord.py reads every event already buffered without returning to the
    # event loop, so a burst of 1,000 interactions was parsed in one stretch of half a second, with
    # no acknowledgement, heartbeat or reply sent meanwhile. Yield to the loop after each event.
    @property
    def ws(self) -> DiscordWebSocket | None:
        return self.__dict__.get("_storybot_ws")

    @ws.setter
    def ws(self, ws: DiscordWebSocket | None) -> None:
        self.__dict__["_storybot_ws"] = ws
        if ws is not None and not getattr(ws, "_storybot_yields", False):
            poll = ws.poll_event

            async def poll_event() -> None:
                await poll()
                await asyncio.sleep(0)

            ws.poll_event = poll_event  # type: ignore[method-assign]
            ws._storybot_yields = True  # type: ignore[attr-defined]

    # start-up ---------------------------------------------------------------------------

    async def login(self, token: str) -> None:
        point_discord_py_at(self.settings.api_base)
        await super().login(token)

    async def connect(self, *, reconnect: bool = True) -> None:
        # A plain Client connects straight to Discord's gateway; behind another API base,
        # ask that base where its gateway is (as sharded clients always do).
        if self.settings.api_base.rstrip("/") != DEFAULT_API_BASE:
            _, url, _ = await self.http.get_bot_gateway()
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
            log.info("using the gateway at %s", url)
        await super().connect(reconnect=reconnect)

    async def setup_hook(self) -> None:
        await self.state.start()
        self.state.on_reload(self._reload_announced)
        if self.library is None:
            try:
                self.library = open_library(self.settings, self._preloaded)
            except StoryUnavailable as exc:
                raise CorpusError(str(exc)) from None
            self._preloaded = None
        library = self.library
        if library.peek(library.default) is None:  # the default story ready before the first question
            try:
                await asyncio.to_thread(library.get, library.default)
            except StoryUnavailable as exc:
                if self.settings.stories is None:
                    raise CorpusError(str(exc).split(": ", 1)[-1]) from None  # the one story: nothing to serve
                log.error("%s; the other stories still serve", exc)
        self.tree.on_error = self.on_app_command_error
        self.add_dynamic_items(*DYNAMIC_ITEMS)  # answer buttons: they work on any message, sent before a restart too
        for name in COGS:
            try:
                await self.load_extension(f"{__package__}.cogs.{name}")
            except Exception as exc:  # one broken cog must not stop the others
                self.failed_cogs[name] = repr(exc)
                log.exception("could not load the %s commands; starting without them", name)
        freeze_heap()
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Sync to the configured guild (instant) or globally (may take up to an hour to show)."""
        try:
            if self.settings.guild:
                guild = discord.Object(self.settings.guild)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d commands to guild %s", len(synced), self.settings.guild)
            else:
                synced = await self.tree.sync()
                log.info("synced %d commands globally", len(synced))
        except (discord.HTTPException, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            # Commands registered earlier keep working; the next start syncs again.
            log.error("could not sync commands (%s); the ones registered before still work", exc)

    async def on_ready(self) -> None:
        log.info("connected as %s (%s) in %d servers", self.user, getattr(self.user, "id", "?"), len(self.guilds))

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A button from an older storybot, whose custom id no button of today reads: say so,
        instead of leaving Discord to show "This interaction failed"."""
        if interaction.type is not discord.InteractionType.component:
            return
        custom_id = str((interaction.data or {}).get("custom_id", ""))
        if custom_id.startswith(BUTTON_PREFIX) and not is_ours(custom_id):
            await tell_user_something_went_wrong(
                interaction, "These buttons are from an older version of storybot. Ask again with /ask to get fresh ones.")

    async def on_message(self, message: discord.Message) -> None:
        # No text commands: the ask cog listens for questions. (Overriding this keeps
        # commands.Bot from parsing mentions as commands.)
        return

    # answering ----------------------------------------------------------------------------

    async def cooldown(self, user_id: int) -> float | None:
        """Seconds until ``user_id`` may ask again, or None (and the question is counted, in every process)."""
        s = self.settings
        return await self.state.hit_cooldown(user_id, rate=s.cooldown_rate, per=s.cooldown_per)

    def should_warn(self, user_id: int, retry_after: float) -> bool:
        """True once per cooldown window, so a flood is not answered by a flood of notices."""
        now = time.monotonic()
        if self._warned.get(user_id, 0.0) > now:
            return False
        self._warned[user_id] = now + retry_after
        if len(self._warned) > 10_000:
            self._warned = {k: v for k, v in self._warned.items() if v > now}
        return True

    @property
    def story(self) -> Story | None:
        """The default story, when it is loaded."""
        return self.library.peek(self.library.default) if self.library is not None else None

    async def story_for(self, guild_id: int | None, channel: object) -> str:
        """The story chosen for ``channel`` (a thread follows its parent channel), else for the server,
        else the default. A choice is returned even when that story is gone: never another story silently."""
        channel_id = getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else getattr(channel, "id", None)
        return self.story_named(await self.state.story_choice(guild_id, channel_id))

    def story_named(self, choice: str | None) -> str:
        """The story a stored choice names (its current spelling), the choice itself when that story is gone,
        or the default when nothing was chosen."""
        assert self.library is not None
        return self.library.resolve(choice) or choice if choice else self.library.default

    async def open_story(self, name: str) -> Story:
        """The story called ``name``, loaded off the loop if it is not in memory; raises StoryUnavailable."""
        assert self.library is not None
        story = self.library.peek(name)
        if story is None:
            story = await asyncio.to_thread(self.library.get, name)
            gc.freeze()  # its objects out of the collector's full passes (see freeze_heap), without a collection now
        return story

    async def answer(self, question: str, *, story: str | None = None,
                     context: str | None = None) -> tuple[Answer, discord.Embed]:
        """Ask ``story`` (default: the default story) and render the answer's first page, off the event loop
        (a big index, or a burst of questions, must not stall the bot): on the answer workers, in arrival order.

        A story that cannot be served gives a notice, never an answer from another story. The answer is
        remembered for its buttons (:attr:`recent`) when a press will read back the same question.
        """
        assert self.library is not None
        name = story or self.library.default
        loaded = await self._open_or_notice(name, question)
        if isinstance(loaded, Answer):
            return loaded, render.answer_embed(loaded, 0, story=name)
        answer, embed = await self._on_workers(_answer_and_render, loaded, question, context, name)
        if answer.hits and (readback.question_of(embed), readback.context_of(embed)) == (question, context):
            self.recent.keep(name, loaded, question, context, answer)
        return answer, embed

    async def answer_again(self, question: str, *, story: str, context: str | None = None) -> Answer:
        """The answer to a question read back from a message (a button press), not rendered: the press
        renders the page it shows. Remembered when this version of ``story`` gave it, else asked again
        on the answer workers (and remembered for the next press)."""
        loaded = await self._open_or_notice(story, question)
        if isinstance(loaded, Answer):
            return loaded
        answer = self.recent.get(story, loaded, question, context)
        if answer is None:
            answer = await self._on_workers(_ask, loaded, question, context)
            if answer.hits:
                self.recent.keep(story, loaded, question, context, answer)
        return answer

    async def _open_or_notice(self, name: str, question: str) -> Story | Answer:
        """The story ``name`` (one read: a reload swapping mid-question does not mix two stories),
        or a notice saying why it cannot be served."""
        try:
            return await self.open_story(name)
        except StoryUnavailable as exc:
            notice = f"Sorry: {exc}. A server admin can pick another story with /story set."
            return Answer(question, (), None, None, 0.0, False, notice=notice[:1].upper() + notice[1:])

    async def _on_workers(self, work: Callable[..., _T], *args: object) -> _T:
        """``work(*args)`` on the answer workers, timed for :meth:`busy`."""
        self.answers_in_flight += 1
        try:
            result, seconds = await asyncio.get_running_loop().run_in_executor(
                self._answer_pool, functools.partial(_timed, work, *args))
        finally:
            self.answers_in_flight -= 1
        self.answer_seconds += (seconds - self.answer_seconds) / 10  # a moving average, for busy()
        return result

    def busy(self) -> bool:
        """True when the answers queued ahead of a new question will take longer than DEFER_AFTER / 2
        (by the recent time an answer takes): then defer at once instead of waiting to find out."""
        return self.answers_in_flight * self.answer_seconds > DEFER_AFTER / 2

    async def close(self) -> None:
        await super().close()
        await self.state.close()
        self._answer_pool.shutdown(wait=False, cancel_futures=True)

    def remember_thread(self, thread_id: int, asked: Reading) -> None:
        """Keep a thread's latest question as it was read, for the follow-up after it."""
        self.thread_questions[thread_id] = asked
        self.thread_questions.move_to_end(thread_id)
        while len(self.thread_questions) > 5000:
            self.thread_questions.popitem(last=False)

    def thread_context(self, channel: object) -> Reading | None:
        """The latest question of a thread storybot opened (as it was read), or None outside one.
        Whether a follow-up is read with it is :func:`bot.core.followup.read_with`'s decision."""
        if not self.settings.threads or not isinstance(channel, discord.Thread):
            return None
        earlier = self.thread_questions.get(channel.id)
        if earlier is None and self.user is not None and channel.owner_id == self.user.id:
            earlier = Reading(channel.name)  # after a restart: the thread is named after its first question
        return earlier

    # admin ------------------------------------------------------------------------------------

    async def is_admin(self, user: discord.abc.User) -> bool:
        """The application owner (or team member), or a member with STORYBOT_ADMIN_ROLE."""
        if await self.is_owner(user):
            return True
        role = self.settings.admin_role
        return bool(role) and any(r.id == role for r in getattr(user, "roles", ()))

    # errors -------------------------------------------------------------------------------------

    async def on_app_command_error(self, interaction: discord.Interaction,
                                   error: app_commands.AppCommandError) -> None:
        """Log the real error with its context; the user gets a short private message."""
        original = getattr(error, "original", error)
        command = interaction.command.qualified_name if interaction.command else "?"
        if isinstance(error, app_commands.NoPrivateMessage):
            await tell_user_something_went_wrong(interaction, "That command works in a server, not in DMs.")
            return
        if isinstance(error, (AdminOnly, app_commands.CheckFailure)):
            log.warning("refused /%s to user %s: not an admin", command, interaction.user.id)
            await tell_user_something_went_wrong(
                interaction, str(error) if isinstance(error, AdminOnly) and str(error)
                else "Only the bot's owner (or the admin role) can use this command.")
            return
        options = (interaction.data or {}).get("options") if isinstance(interaction.data, dict) else None
        if isinstance(original, discord.NotFound) and original.code in EXPIRED_INTERACTION:
            # Too late to answer (Discord's 3 s, or 15 min for follow-ups): nothing can reach the user now.
            log.warning("/%s for user %s expired before the answer was sent (%s); options %r", command,
                        interaction.user.id, original.text or original.code, options)
            return
        log.error("/%s failed for user %s in channel %s (guild %s), options %r", command, interaction.user.id,
                  interaction.channel_id, interaction.guild_id, options, exc_info=original)
        await tell_user_something_went_wrong(interaction)

    async def on_error(self, event_method: str, /, *args: object, **kwargs: object) -> None:
        log.exception("unhandled error in %s", event_method)


class ShardedStoryBot(StoryBot, commands.AutoShardedBot):
    """StoryBot on the gateway shards ``settings.shard_ids`` of ``settings.shard_count``: one process per
    group of shards, on one host or many; what they share lives in ``bot.state`` (PostgreSQL)."""


def make_bot(settings: Settings, **kwargs: object) -> StoryBot:
    """The bot for ``settings``: sharded (discord.py's AutoShardedBot) when STORYBOT_SHARD_COUNT is set,
    else the plain one-connection bot."""
    cls = ShardedStoryBot if settings.shard_count else StoryBot
    return cls(settings, **kwargs)  # type: ignore[arg-type]


def _ask(story: Story, question: str, context: str | None) -> Answer:
    return story.ask(question, context=context, k=ASK_K)


def _answer_and_render(story: Story, question: str, context: str | None,
                       name: str) -> tuple[Answer, discord.Embed]:
    answer = _ask(story, question, context)
    return answer, render.answer_embed(answer, 0, story=name)


def _timed(work: Callable[..., _T], *args: object) -> tuple[_T, float]:
    started = time.perf_counter()
    result = work(*args)
    return result, time.perf_counter() - started
