"""What the bot's processes share, in PostgreSQL (psycopg 3): for several processes or hosts.

Used instead of the local SQLite state when ``STORYBOT_DATABASE_URL`` is set; psycopg is the
optional ``postgres`` extra, imported only here. Every process keeps three connections: one
for votes and story choices (committed to disk), one for cooldowns (``synchronous_commit`` off:
a count need not wait for the disk) and one that LISTENs for reload and story-choice broadcasts.
psycopg serialises the statements of one connection, each a fraction of a millisecond. A
supervisor task reconnects all three with backoff when the server goes away and LISTENs again.

While PostgreSQL is unreachable the bot keeps answering:

- votes are appended to a spool file (fsynced, shared by the processes of a host under a file
  lock) and sent when the server is back. The upsert is keyed by (answer, voter) and keeps the
  latest vote by its own time, so a vote sent twice (a reply lost in the outage, two processes
  flushing one spool) is still stored once;
- cooldowns are counted in the process (LocalState's sliding window) until the server is back;
- story choices are served from a cache that the broadcasts keep current (reloaded whole on
  every reconnect, so a broadcast missed in an outage does not leave it stale); one made in the
  outage holds in its process at once and is saved when the server is back;
- a reload announced in an outage reloads this process only (the others did not hear it).
No discord import here.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import psycopg

from .feedback import Vote
from .local_state import SlidingWindow
from .shared_state import ReloadCallback, chosen_story
from .vote_spool import VoteSpool, vote_row

log = logging.getLogger(__name__)

RELOAD_CHANNEL = "storybot_reload"
CHOICE_CHANNEL = "storybot_story_choice"
ALL_STORIES = "*"  # the reload broadcast's payload for "every story"

SCHEMA = """
CREATE TABLE IF NOT EXISTS storybot_votes (
    answer_id text NOT NULL,
    voter text NOT NULL,
    at double precision NOT NULL,
    helpful boolean NOT NULL,
    question text NOT NULL,
    context text,
    confidence double precision NOT NULL,
    answered boolean NOT NULL,
    passages jsonb NOT NULL,
    story text,
    PRIMARY KEY (answer_id, voter)
);
ALTER TABLE storybot_votes ADD COLUMN IF NOT EXISTS story text;
CREATE TABLE IF NOT EXISTS storybot_cooldowns (
    user_id bigint PRIMARY KEY,
    hits double precision[] NOT NULL,  -- times (server clock) of the user's last `rate` questions
    refused boolean NOT NULL  -- whether the latest question was refused
);
CREATE TABLE IF NOT EXISTS storybot_story_choices (
    guild_id bigint NOT NULL,
    channel_id bigint NOT NULL,  -- 0: the whole server
    story text NOT NULL,
    PRIMARY KEY (guild_id, channel_id)
);
"""

# A second vote by the same person on the same answer replaces the first, unless it is older (a
# spooled vote delivered after a newer one): then the newer stays.
UPSERT_VOTE = """
INSERT INTO storybot_votes AS v (answer_id, voter, at, helpful, question, context, confidence, answered, passages,
                                 story)
VALUES (%(answer_id)s, %(voter)s, %(at)s, %(helpful)s, %(question)s, %(context)s, %(confidence)s,
        %(answered)s, %(passages)s, %(story)s)
ON CONFLICT (answer_id, voter) DO UPDATE SET
    at = EXCLUDED.at, helpful = EXCLUDED.helpful, question = EXCLUDED.question, context = EXCLUDED.context,
    confidence = EXCLUDED.confidence, answered = EXCLUDED.answered, passages = EXCLUDED.passages,
    story = EXCLUDED.story
WHERE v.at <= EXCLUDED.at
"""

# One statement, so the row lock makes it atomic across every process; the same sliding window as
# LocalState's (no burst of twice the rate across a window boundary), on the server's clock (hosts
# may disagree), read after the row lock is taken so each user's times only grow.
HIT_COOLDOWN = """
INSERT INTO storybot_cooldowns AS c (user_id, hits, refused)
VALUES (%(user)s, ARRAY[extract(epoch FROM clock_timestamp())::double precision], false)
ON CONFLICT (user_id) DO UPDATE SET (hits, refused) = (
    SELECT CASE WHEN cardinality(k.kept) < %(rate)s THEN k.kept || k.now ELSE k.kept END,
           cardinality(k.kept) >= %(rate)s
    FROM (SELECT n.now, coalesce((SELECT array_agg(t ORDER BY t) FROM unnest(c.hits) AS t
                                  WHERE n.now - t < %(per)s), '{}') AS kept
          FROM (SELECT extract(epoch FROM clock_timestamp())::double precision AS now) AS n) AS k)
RETURNING refused, %(per)s - (extract(epoch FROM clock_timestamp())::double precision - hits[1])
"""


class StateUnavailable(RuntimeError):
    """PostgreSQL cannot be reached (or did not answer in time) for one statement; callers fall back."""


class PostgresState:
    """:class:`bot.shared_state.SharedState` on PostgreSQL, for several processes on one or more hosts.

    Parameters
    ----------
    url : the libpq connection URL (``STORYBOT_DATABASE_URL``).
    spool : where votes wait while the server is unreachable (one per host is enough: locked).
    timeout : seconds a question may wait on the server before the in-process fallback answers;
        small, because Discord wants an answer to an interaction within 3 s.
    stall : seconds after which a statement still unanswered means the server is gone (reconnect).
    """

    def __init__(self, url: str, *, spool: Path, timeout: float = 1.0, stall: float = 5.0,
                 connect_timeout: float = 3.0, max_backoff: float = 5.0) -> None:
        self.url = url
        self.spool = VoteSpool(spool)
        self.timeout = timeout
        self.stall = stall
        self.local_decisions = 0  # cooldown checks answered in process (server unreachable or slow)
        self.connect_timeout = connect_timeout
        self.max_backoff = max_backoff
        self.local_cooldowns = SlidingWindow()  # the fallback while the server is unreachable
        self._choices: dict[tuple[int, int], str] = {}
        self._pending_choices: dict[tuple[int, int], dict[str, Any]] = {}  # made while unreachable
        self._callbacks: list[ReloadCallback] = []
        self._cmd: psycopg.AsyncConnection | None = None  # votes and story choices: committed to disk
        self._fast: psycopg.AsyncConnection | None = None  # cooldowns: synchronous_commit off (see _supervise)
        self._broken = asyncio.Event()
        self._connected = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._flush_lock = asyncio.Lock()
        self._inflight: dict[asyncio.Future[Any], float] = {}  # statements sent -> when

    # life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (waiting up to ``connect_timeout``; if the server is down the bot starts anyway
        and the supervisor keeps trying) and begin listening."""
        if self._supervisor is None:
            self._supervisor = asyncio.create_task(self._supervise(), name="storybot-postgres")
            self._flusher = asyncio.create_task(self._flush_periodically(), name="storybot-vote-spool")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._connected.wait(), self.connect_timeout)
        if not self._connected.is_set():
            log.error("PostgreSQL is unreachable at start; answering anyway (cooldowns in this process, votes spooled)")

    async def close(self) -> None:
        self._closed = True
        for task in (self._supervisor, self._flusher, *self._tasks):
            if task is not None:
                task.cancel()
        for task in (self._supervisor, self._flusher, *self._tasks):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._supervisor = self._flusher = None

    @property
    def connected(self) -> bool:
        return self._cmd is not None and not self._broken.is_set()

    async def wait_connected(self, timeout: float) -> bool:
        """True once connected (tests and start-up checks)."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return self.connected

    async def _connect(self) -> psycopg.AsyncConnection:
        return await psycopg.AsyncConnection.connect(self.url, autocommit=True,
                                                     connect_timeout=max(1, round(self.connect_timeout)),
                                                     application_name="storybot")

    async def _supervise(self) -> None:
        delay = 0.2
        while not self._closed:
            listener = cmd = fast = None
            try:
                listener = await self._connect()
                cmd = await self._connect()
                fast = await self._connect()
                # A cooldown count need not wait for the disk (a crash forgets a few seconds of counts,
                # harmless); waiting made a burst of 1,000 questions take 1 s on one connection instead
                # of 0.3 s. Votes and story choices keep full durability on their own connection.
                await fast.execute("SET synchronous_commit = off")
                await cmd.execute("SELECT pg_advisory_lock(7273012)")  # one process creates the tables at a time
                await cmd.execute(SCHEMA)
                await cmd.execute("SELECT pg_advisory_unlock(7273012)")
                await listener.execute(f"LISTEN {RELOAD_CHANNEL}")
                await listener.execute(f"LISTEN {CHOICE_CHANNEL}")
                while self._pending_choices:  # made in an outage: saved before the table is read back
                    key, change = next(iter(self._pending_choices.items()))
                    await self._save_choice(change, cmd.execute)
                    self._pending_choices.pop(key, None)
                await self._load_choices(cmd)
                self._broken.clear()
                self._cmd, self._fast = cmd, fast
                self._connected.set()
                log.info("connected to PostgreSQL; listening for reloads")
                delay = 0.2
                self._spawn(self._flush_spool())
                await self._listen(listener)
            except (psycopg.Error, OSError) as exc:
                if not self._closed:
                    log.warning("PostgreSQL unreachable (%s); retrying in %.1f s", str(exc).strip() or type(exc).__name__,
                                delay)
            finally:
                self._cmd = self._fast = None
                self._connected.clear()
                for conn in (listener, cmd, fast):
                    if conn is not None:
                        with contextlib.suppress(Exception):
                            await conn.close()
            if self._closed:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)

    async def _listen(self, listener: psycopg.AsyncConnection) -> None:
        """Dispatch broadcasts until the connection drops or a command found the server gone."""
        async def notifications() -> None:
            async for note in listener.notifies():
                if note.channel == RELOAD_CHANNEL:
                    story = None if note.payload == ALL_STORIES else note.payload
                    for callback in list(self._callbacks):
                        self._spawn(self._run_reload(callback, story))
                elif note.channel == CHOICE_CHANNEL:
                    self._apply_choice(json.loads(note.payload))

        reader = asyncio.create_task(notifications())
        broken = asyncio.create_task(self._broken.wait())
        try:
            await asyncio.wait({reader, broken}, return_when=asyncio.FIRST_COMPLETED)
            if reader.done():
                reader.result()  # raises the connection error that ended it
                raise psycopg.OperationalError("the listening connection closed")
            raise psycopg.OperationalError("a command found the server unreachable")
        finally:
            for task in (reader, broken):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_reload(self, callback: ReloadCallback, story: str | None) -> None:
        try:
            await callback(story)
        except Exception:  # a failing reload must not stop the listener
            log.exception("reload of %s failed", story or "every story")

    async def _command(self, query: str, params: dict[str, Any] | None = None, *,
                       fast: bool = False) -> list[tuple[Any, ...]]:
        """Run one statement, waiting at most ``timeout``; raises :class:`StateUnavailable` when the caller
        must fall back.

        A statement is never cancelled half-way (psycopg would have to drop the connection): when it is
        only slow (a burst queued on the connection) the caller falls back and the statement still
        completes, so a vote is stored (and also spooled: stored once) and a question counted. A
        connection error, or a statement stuck for ``stall`` seconds (a server that stopped answering),
        marks the connection broken and the supervisor reconnects.
        """
        cmd = self._fast if fast else self._cmd
        if cmd is None or self._broken.is_set():
            raise StateUnavailable("PostgreSQL is unreachable")
        task = asyncio.ensure_future(self._execute(cmd, query, params))
        self._inflight[task] = time.monotonic()
        task.add_done_callback(self._finished)
        done, _ = await asyncio.wait({task}, timeout=self.timeout)
        if not done:
            raise StateUnavailable(f"PostgreSQL did not answer within {self.timeout:g} s")
        return task.result()

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._inflight.pop(task, None)
        if not task.cancelled():
            task.exception()  # read, so a late failure is not reported as never retrieved

    async def _execute(self, cmd: psycopg.AsyncConnection, query: str,
                       params: dict[str, Any] | None) -> list[tuple[Any, ...]]:
        try:
            cursor = await cmd.execute(query, params)
            return await cursor.fetchall() if cursor.description else []
        except (psycopg.OperationalError, OSError) as exc:
            if cmd in (self._cmd, self._fast):
                self._broken.set()
            raise StateUnavailable(f"PostgreSQL is unreachable ({str(exc).strip() or type(exc).__name__})") from exc

    def _check_stalled(self) -> None:
        oldest = min(self._inflight.values(), default=None)
        if oldest is not None and time.monotonic() - oldest > self.stall and self._cmd is not None:
            log.warning("a PostgreSQL statement has waited %.0f s: reconnecting", time.monotonic() - oldest)
            self._broken.set()

    # votes ----------------------------------------------------------------------------------------

    async def record_vote(self, vote: Vote) -> None:
        row = vote_row(vote, time.time())
        try:
            await self._command(UPSERT_VOTE, row)
        except StateUnavailable as exc:
            # Maybe it was stored and only the reply was lost: sending it again later stores it once.
            await asyncio.to_thread(self.spool.append, row)
            log.warning("vote on %s spooled until PostgreSQL is back (%s)", vote.answer_id, exc)

    async def _flush_periodically(self) -> None:
        while not self._closed:
            await asyncio.sleep(1.0)
            self._check_stalled()
            if self.connected and await asyncio.to_thread(self.spool.pending):
                await self._flush_spool()

    async def _flush_spool(self) -> int:
        """Send every spooled vote; returns how many were sent. One flush at a time in a process; another
        process flushing the same files at once only sends some votes twice (stored once)."""
        async with self._flush_lock:
            sent = 0
            for path in await asyncio.to_thread(self.spool.take):
                try:
                    rows = await asyncio.to_thread(VoteSpool.rows, path)
                except FileNotFoundError:  # another process sent it first
                    continue
                try:
                    for row in rows:
                        await self._command(UPSERT_VOTE, row)
                        sent += 1
                except StateUnavailable:
                    return sent  # the file stays; the next flush sends it (again: stored once)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            if sent:
                log.info("sent %d spooled votes to PostgreSQL", sent)
            return sent

    # cooldowns ------------------------------------------------------------------------------------

    async def hit_cooldown(self, user_id: int, *, rate: int, per: float) -> float | None:
        try:
            rows = await self._command(HIT_COOLDOWN, dict(user=user_id, rate=rate, per=float(per)), fast=True)
        except StateUnavailable:
            self.local_decisions += 1
            return self.local_cooldowns.hit(user_id, rate, per)
        refused, retry_after = rows[0]
        return max(0.0, float(retry_after)) if refused else None

    # story choices --------------------------------------------------------------------------------

    async def _load_choices(self, cmd: psycopg.AsyncConnection) -> None:
        cursor = await cmd.execute("SELECT guild_id, channel_id, story FROM storybot_story_choices")
        self._choices = {(g, c): s for g, c, s in await cursor.fetchall()}

    def _apply_choice(self, change: dict[str, Any]) -> None:
        key = (int(change["guild"]), int(change["channel"]))
        if change.get("story") is None:
            self._choices.pop(key, None)
        else:
            self._choices[key] = str(change["story"])

    async def story_choice(self, guild_id: int | None, channel_id: int | None) -> str | None:
        return chosen_story(self._choices, guild_id, channel_id)

    async def set_story_choice(self, guild_id: int, channel_id: int | None, story: str | None) -> None:
        """Store the choice and tell every process. In an outage it holds in this process at once and is
        saved (and broadcast) when the server is back, as LocalState keeps a choice it cannot write."""
        change = dict(guild=guild_id, channel=channel_id or 0, story=story)
        self._apply_choice(change)  # this process at once; the broadcast tells the others
        try:
            await self._save_choice(change, self._command)
        except StateUnavailable as exc:
            self._pending_choices[(guild_id, channel_id or 0)] = change
            log.warning("story choice %r for server %s channel %s kept in this process until PostgreSQL is back (%s)",
                        story, guild_id, channel_id, exc)

    @staticmethod
    async def _save_choice(change: dict[str, Any], run: Any) -> None:
        params = dict(change, payload=json.dumps(change))
        if change["story"] is None:
            query = ("WITH gone AS (DELETE FROM storybot_story_choices WHERE guild_id = %(guild)s"
                     " AND channel_id = %(channel)s) SELECT pg_notify('" + CHOICE_CHANNEL + "', %(payload)s)")
        else:
            query = ("WITH saved AS (INSERT INTO storybot_story_choices (guild_id, channel_id, story)"
                     " VALUES (%(guild)s, %(channel)s, %(story)s) ON CONFLICT (guild_id, channel_id)"
                     " DO UPDATE SET story = EXCLUDED.story) SELECT pg_notify('" + CHOICE_CHANNEL + "', %(payload)s)")
        await run(query, params)

    # reloads ----------------------------------------------------------------------------------------

    async def announce_reload(self, story: str | None) -> None:
        payload = ALL_STORIES if story is None else story
        try:
            await self._command("SELECT pg_notify(%(channel)s, %(payload)s)",
                                dict(channel=RELOAD_CHANNEL, payload=payload))
        except StateUnavailable:
            log.warning("PostgreSQL unreachable: reloading %s in this process only", story or "every story")
            for callback in list(self._callbacks):
                await self._run_reload(callback, story)

    def on_reload(self, callback: ReloadCallback) -> None:
        self._callbacks.append(callback)


def votes_in(url: str) -> list[dict[str, Any]]:
    """Every stored vote (for the operator's summary and the tests). Blocking."""
    with psycopg.connect(url) as conn:
        cursor = conn.execute("SELECT answer_id, voter, at, helpful, question, context, confidence, answered,"
                              " passages, story FROM storybot_votes ORDER BY at")
        names = [d.name for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def summary_lines(url: str, *, worst: int = 10) -> list[str]:
    """``python -m bot feedback`` for the votes in PostgreSQL: the same lines as for the SQLite file. Blocking."""
    from .feedback import summary_of

    where = url.rsplit("@", 1)[-1]  # host/database only: the URL may hold a password
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            if conn.execute("SELECT to_regclass('storybot_votes')").fetchone()[0] is None:
                return [f"No feedback recorded yet in PostgreSQL ({where})."]
            total, helpful, abstained = conn.execute(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE helpful),"
                " COUNT(*) FILTER (WHERE NOT answered AND NOT helpful) FROM storybot_votes").fetchone()
            rows = conn.execute(
                "SELECT question, story, COUNT(*) AS n, AVG(confidence) FROM storybot_votes WHERE NOT helpful"
                " GROUP BY story, question ORDER BY n DESC, MAX(at) DESC LIMIT %s", (worst,)).fetchall()
    except psycopg.OperationalError as exc:
        return [f"Cannot reach PostgreSQL at {where}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}"]
    if not total:
        return [f"No feedback recorded yet in PostgreSQL ({where})."]
    return summary_of(f"PostgreSQL ({where})", total, helpful, abstained, rows)


__all__ = ["PostgresState", "StateUnavailable", "VoteSpool", "summary_lines", "votes_in", "vote_row"]
