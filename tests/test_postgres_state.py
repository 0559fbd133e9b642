"""PostgresState against a real PostgreSQL server started in a temporary folder (tests/pg_server.py).

Several PostgresState instances stand for several bot processes: each has its own connections,
as a process on another host would.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.feedback import Vote
from pg_server import PgServer, own_postgres, postgres_server, postgres_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.postgres




def vote(answer: str, voter: int, helpful: bool = True, question: str = "Who?") -> Vote:
    return Vote(answer_id=answer, voter=voter, helpful=helpful, question=question, confidence=0.5,
                answered=True, passages=("[1] a", "[2] b"))


@contextlib.asynccontextmanager
async def states(url: str, tmp_path: Path, n: int, **kwargs) -> AsyncIterator[list]:
    from bot.postgres_state import PostgresState

    made = [PostgresState(url, spool=tmp_path / "votes.spool", max_backoff=0.5, **kwargs) for _ in range(n)]
    try:
        for s in made:
            await s.start()
            assert s.connected
        yield made
    finally:
        for s in made:
            await s.close()


def stored(url: str) -> list[dict]:
    from bot.postgres_state import votes_in

    return votes_in(url)


async def test_cooldown_is_exact_across_processes_under_concurrency(postgres_url: str, tmp_path: Path) -> None:
    async with states(postgres_url, tmp_path, 4) as procs:
        # 4 processes x 25 questions at once from one user: exactly `rate` allowed, whoever serves them.
        results = await asyncio.gather(*(p.hit_cooldown(42, rate=5, per=30) for p in procs for _ in range(25)))
        allowed = [r for r in results if r is None]
        assert len(allowed) == 5
        refused = [r for r in results if r is not None]
        assert len(refused) == 95 and all(0 < r <= 30 for r in refused)
        # Another user has a budget of their own.
        other = await asyncio.gather(*(p.hit_cooldown(43, rate=5, per=30) for p in procs))
        assert other.count(None) == 4


async def test_cooldown_window_ends_after_per_seconds(postgres_url: str, tmp_path: Path) -> None:
    async with states(postgres_url, tmp_path, 2) as (a, b):
        assert [await a.hit_cooldown(7, rate=2, per=0.6), await b.hit_cooldown(7, rate=2, per=0.6)] == [None, None]
        wait = await a.hit_cooldown(7, rate=2, per=0.6)
        assert wait is not None and 0 < wait <= 0.6
        await asyncio.sleep(wait + 0.05)
        assert await b.hit_cooldown(7, rate=2, per=0.6) is None


async def test_votes_stored_once_and_latest_wins(postgres_url: str, tmp_path: Path) -> None:
    async with states(postgres_url, tmp_path, 2) as (a, b):
        await asyncio.gather(*(p.record_vote(vote(f"ans{i}", 100 + i % 3)) for p in (a, b) for i in range(30)))
        await a.record_vote(vote("ans0", 100, helpful=False))  # the same person changes their mind
    rows = stored(postgres_url)
    assert len(rows) == 30  # each (answer, voter) once, although both processes sent every vote
    assert len({(r["answer_id"], r["voter"]) for r in rows}) == 30
    changed = [r for r in rows if r["answer_id"] == "ans0"]
    assert len(changed) == 1 and changed[0]["helpful"] is False
    assert changed[0]["passages"] == ["[1] a", "[2] b"] and changed[0]["question"] == "Who?"
    assert all(r["voter"] != "100" for r in rows)  # hashed, as in the SQLite store


async def test_story_choices_shared_and_broadcast(postgres_url: str, tmp_path: Path) -> None:
    async with states(postgres_url, tmp_path, 2) as (a, b):
        assert await b.story_choice(1, 10) is None
        await a.set_story_choice(1, None, "normans")
        await a.set_story_choice(1, 11, "sky")
        await asyncio.sleep(0)
        for _ in range(50):  # the broadcast reaches the other process's cache
            if await b.story_choice(1, 11) == "sky":
                break
            await asyncio.sleep(0.05)
        assert await b.story_choice(1, 10) == "normans"  # the server's choice
        assert await b.story_choice(1, 11) == "sky"  # the channel's own wins
        assert await b.story_choice(2, 11) is None  # another server
        assert await b.story_choice(None, None) is None  # a DM
        await b.set_story_choice(1, 11, None)
        for _ in range(50):
            if await a.story_choice(1, 11) == "normans":
                break
            await asyncio.sleep(0.05)
        assert await a.story_choice(1, 11) == "normans"
    async with states(postgres_url, tmp_path, 1) as (c,):  # a process started later reads them
        assert await c.story_choice(1, 99) == "normans"


async def test_reload_broadcast_reaches_every_process(postgres_url: str, tmp_path: Path) -> None:
    async with states(postgres_url, tmp_path, 3) as procs:
        heard: list[list[str | None]] = [[] for _ in procs]
        for p, log in zip(procs, heard):
            async def on_reload(story: str | None, log: list = log) -> None:
                log.append(story)
            p.on_reload(on_reload)
        await procs[1].announce_reload("sky")
        await procs[2].announce_reload(None)
        for _ in range(100):
            if all(len(h) == 2 for h in heard):
                break
            await asyncio.sleep(0.02)
        assert heard == [["sky", None]] * 3


async def test_server_restart_votes_spooled_and_delivered_once(own_postgres: PgServer, tmp_path: Path) -> None:
    url = own_postgres.new_database()
    async with states(url, tmp_path, 2, timeout=0.5) as (a, b):
        heard: list[str | None] = []

        async def on_reload(story: str | None) -> None:
            heard.append(story)
        b.on_reload(on_reload)
        await a.record_vote(vote("before", 1))
        for i in range(3):  # use up user 5's budget on the server
            await a.hit_cooldown(5, rate=3, per=60)
        own_postgres.stop()
        # In the outage: votes are spooled, cooldowns are counted in the process, choices served from cache.
        await asyncio.gather(a.record_vote(vote("during", 1)), b.record_vote(vote("during", 2)),
                             b.record_vote(vote("during", 3, helpful=False)))
        assert (tmp_path / "votes.spool").read_text().count("\n") == 3
        outage = [await a.hit_cooldown(6, rate=2, per=60) for _ in range(3)]
        assert outage[:2] == [None, None] and outage[2] is not None
        assert await a.story_choice(1, 1) is None
        await a.set_story_choice(1, None, "sky")  # kept in this process, saved when the server is back
        assert await a.story_choice(1, 1) == "sky"
        own_postgres.start()
        for s in (a, b):
            assert await s.wait_connected(15), "did not reconnect after the server came back"
        for _ in range(100):
            if not b.spool.pending() and len(stored(url)) == 4:
                break
            await asyncio.sleep(0.1)
        assert not b.spool.pending()
        # Re-LISTENed after the restart: a broadcast reaches the other process again.
        await a.announce_reload("normans")
        for _ in range(100):
            if heard:
                break
            await asyncio.sleep(0.05)
        assert heard == ["normans"]
        assert await a.hit_cooldown(5, rate=3, per=60) is not None  # the server's count survived
        for _ in range(50):  # the choice made in the outage was saved and reached the other process
            if await b.story_choice(1, 1) == "sky":
                break
            await asyncio.sleep(0.05)
        assert await b.story_choice(1, 1) == "sky"
    rows = stored(url)
    assert sorted((r["answer_id"], r["helpful"]) for r in rows) == [
        ("before", True), ("during", False), ("during", True), ("during", True)]


async def test_spooled_vote_replayed_twice_is_stored_once(postgres_url: str, tmp_path: Path) -> None:
    """A vote whose reply was lost (stored, then spooled anyway) and a spool sent twice: one row."""
    from bot.vote_spool import VoteSpool, vote_row

    async with states(postgres_url, tmp_path, 1) as (a,):
        await a.record_vote(vote("x", 1))
        row = vote_row(vote("x", 1), 1.0)  # older than the one stored: must not replace it
        a.spool.append(row)
        copy = tmp_path / "votes.spool.sending-1-1"
        VoteSpool(tmp_path / "copy").append(row)
        (tmp_path / "copy").rename(copy)
        await a._flush_spool()  # (the periodic flush may have sent some already)
        assert not a.spool.pending()
    rows = stored(postgres_url)
    assert len(rows) == 1 and rows[0]["at"] > 1.0


async def test_start_with_server_down_answers_then_connects(own_postgres: PgServer, tmp_path: Path) -> None:
    url = own_postgres.new_database()
    own_postgres.stop()
    from bot.postgres_state import PostgresState

    state = PostgresState(url, spool=tmp_path / "votes.spool", connect_timeout=1.0, max_backoff=0.3)
    try:
        await state.start()  # returns after connect_timeout, does not raise
        assert not state.connected
        assert await state.hit_cooldown(1, rate=1, per=60) is None
        await state.record_vote(vote("a", 1))
        own_postgres.start()
        assert await state.wait_connected(15)
        for _ in range(50):
            if stored(url):
                break
            await asyncio.sleep(0.1)
    finally:
        await state.close()
    assert [r["answer_id"] for r in stored(url)] == ["a"]


async def test_slow_server_falls_back_without_dropping_the_connection(postgres_url: str, tmp_path: Path) -> None:
    """A statement held up (here: a table lock) answers the question in process after `timeout`, is not
    cancelled (the count still lands), and the connection stays; stuck past `stall`, it is replaced."""
    import psycopg

    async with states(postgres_url, tmp_path, 1, timeout=0.3, stall=2.0) as (a,):
        assert await a.hit_cooldown(9, rate=2, per=60) is None  # the table exists; one question counted
        first = a._fast
        async with await psycopg.AsyncConnection.connect(postgres_url) as locker:
            await locker.execute("LOCK TABLE storybot_cooldowns IN ACCESS EXCLUSIVE MODE")
            started = asyncio.get_running_loop().time()
            assert await a.hit_cooldown(9, rate=2, per=60) is None  # answered by the in-process window
            assert asyncio.get_running_loop().time() - started < 1.0
            await asyncio.sleep(0.5)
            await locker.rollback()
        for _ in range(50):
            if not a._inflight:
                break
            await asyncio.sleep(0.05)
        assert a.connected and a._fast is first  # slow is not gone: same connection
        # The held-up statement completed: the server counted 2 questions, so the third is refused.
        assert await a.hit_cooldown(9, rate=2, per=60) is not None
        async with await psycopg.AsyncConnection.connect(postgres_url) as locker:
            await locker.execute("LOCK TABLE storybot_cooldowns IN ACCESS EXCLUSIVE MODE")
            await a.hit_cooldown(10, rate=2, per=60)
            for _ in range(100):  # stuck past `stall`: the connection is given up
                if not a.connected:
                    break
                await asyncio.sleep(0.1)
            assert not a.connected
            await locker.rollback()
        assert await a.wait_connected(10) and a._fast is not first


async def test_feedback_summary_reads_postgres(postgres_url: str, tmp_path: Path) -> None:
    from helpers import clean_env, run_cli

    env = clean_env(STORYBOT_DATABASE_URL=postgres_url)
    assert "No feedback recorded yet" in (await asyncio.to_thread(run_cli, "feedback", env=env)).stdout
    async with states(postgres_url, tmp_path, 1) as (a,):
        for answer in ("m1", "m2"):
            await a.record_vote(dataclasses.replace(vote(answer, 1, helpful=False, question="Where is the bridge?"),
                                                    story="bridge"))
        await a.record_vote(vote("m3", 2, helpful=True))
    done = await asyncio.to_thread(run_cli, "feedback", env=env)
    assert done.returncode == 0, done.stderr
    assert "3 votes, 1 helpful (33%), 2 not helpful" in done.stdout
    assert "2 x  Where is the bridge?  (story bridge, confidence 0.50)" in done.stdout
    assert {r["story"] for r in stored(postgres_url)} == {"bridge", None}
    assert "storybot@" not in done.stdout  # the URL's user (and any password) is not printed
