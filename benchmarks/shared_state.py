"""What sharing state across processes costs: cooldown checks and votes, LocalState against PostgreSQL,
and the memory of each bot process.

    .venv/bin/pip install -e '.[bench,postgres]' && .venv/bin/python benchmarks/shared_state.py

Starts a real PostgreSQL in a temporary folder (tests/pg_server.py: Debian's initdb and pg_ctl) and,
for the memory figures, bot processes against the local fake Discord. Baselines in the same run:
discord.py's in-process CooldownMapping (what storybot used before issue 14) and LocalState's
sliding window. Prints Markdown tables for benchmarks/RESULTS.md.
"""
from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import discord  # noqa: E402
import psutil  # noqa: E402
from discord.ext import commands  # noqa: E402

from bot.feedback import Vote  # noqa: E402
from bot.local_state import LocalState  # noqa: E402
from bot.postgres_state import PostgresState  # noqa: E402
from fake_discord.server import FakeDiscord  # noqa: E402
from helpers import SEEDS, clean_env  # noqa: E402
from pg_server import _make_server  # noqa: E402

CHECKS = 2000


def row(name: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"| {name} | {statistics.median(ms):.3f} | {p99:.3f} | {len(ms) / (sum(ms) / 1000):,.0f} |"


async def timed(call, n: int = CHECKS) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        await call(i)
        out.append(time.perf_counter() - started)
    return out


async def concurrent(states: list[PostgresState], per_state: int) -> tuple[float, int]:
    """Every state (a process) checks cooldowns for the same 50 users at once: wall time, allowed count."""
    started = time.perf_counter()
    results = await asyncio.gather(*(s.hit_cooldown(i % 50, rate=5, per=60) for s in states for i in range(per_state)))
    return time.perf_counter() - started, sum(r is None for r in results)


async def cooldowns_and_votes(url: str, tmp: Path) -> list[str]:
    lines = ["| check | median ms | p99 ms | per second (one after another) |", "| --- | ---: | ---: | ---: |"]
    mapping = commands.CooldownMapping.from_cooldown(5, 60, commands.BucketType.user)

    class Key:
        def __init__(self, i: int) -> None:
            self.author = discord.Object(i + 1)

    async def dpy(i: int) -> None:
        mapping.update_rate_limit(Key(i % 500))
    lines.append(row("cooldown: discord.py CooldownMapping (in process, before issue 14)", await timed(dpy)))
    local = LocalState(tmp / "local.sqlite3")
    await local.start()
    lines.append(row("cooldown: LocalState (in process, sliding window)",
                     await timed(lambda i: local.hit_cooldown(i % 500, rate=5, per=60))))
    pg = PostgresState(url, spool=tmp / "votes.spool")
    await pg.start()
    lines.append(row("cooldown: PostgresState (one statement, 127.0.0.1)",
                     await timed(lambda i: pg.hit_cooldown(i % 500, rate=5, per=60))))

    def vote(i: int) -> Vote:
        return Vote(answer_id=f"a{i}", voter=i, helpful=True, question="Who?", confidence=0.5, answered=True,
                    passages=("[1] x",))
    lines.append(row("vote: LocalState (SQLite file, fsync per vote)", await timed(lambda i: local.record_vote(vote(i)), 300)))
    lines.append(row("vote: PostgresState (upsert)", await timed(lambda i: pg.record_vote(vote(i)), 300)))
    await pg.close()
    await local.close()
    lines.append("")
    lines.append("| PostgresState instances (one event loop) checking at once | checks | wall s | checks per second "
                 "| allowed (50 users x rate 5 = 250) | decided in process (timeout 1 s) |")
    lines.append("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in (1, 2, 4):
        states = [PostgresState(url, spool=tmp / "votes.spool") for _ in range(n)]
        for s in states:
            await s.start()
        async with await psycopg_connect(url) as conn:
            await conn.execute("DELETE FROM storybot_cooldowns")
        wall, allowed = await concurrent(states, 1000)
        local = sum(s.local_decisions for s in states)
        lines.append(f"| {n} | {n * 1000} | {wall:.2f} | {n * 1000 / wall:,.0f} | {allowed} | {local} |")
        for s in states:
            await s.close()
    return lines


async def psycopg_connect(url: str):
    import psycopg

    return await psycopg.AsyncConnection.connect(url, autocommit=True)


async def memory(url: str, tmp: Path) -> list[str]:
    """RSS and USS (memory only this process holds) of each bot process, after READY, bundled story."""
    from bot.core.cache import load_story

    load_story(SEEDS, cache_dir=tmp / "cache")  # every process below loads the index from this cache
    lines = ["| setup | processes | RSS MB each | USS MB each (its own) |", "| --- | ---: | ---: | ---: |"]
    for label, shards, database in (("one process, one connection, SQLite (default)", [None], False),
                                     ("one process, 2 shards, PostgreSQL", ["0,1"], True),
                                     ("2 processes, 1 shard each, PostgreSQL", ["0", "1"], True)):
        async with FakeDiscord(shard_count=2 if database else 1) as fake:
            env = clean_env(DISCORD_TOKEN=fake.token, DISCORD_API_BASE=fake.base_url, STORYBOT_SEEDS=str(SEEDS),
                            STORYBOT_CACHE_DIR=str(tmp / "cache"), STORYBOT_FEEDBACK_DB=str(tmp / "f.sqlite3"),
                            PYTHONPATH=str(REPO))
            if database:
                env.update(STORYBOT_DATABASE_URL=url, STORYBOT_SHARD_COUNT="2")
            procs = []
            for shard in shards:
                e = dict(env, **({"STORYBOT_SHARD_IDS": shard} if shard else {}))
                procs.append(await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "discord", cwd=tmp, env=e, stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL))
            if database:
                await fake.wait_shards_ready([0, 1], timeout=120)
            else:
                await fake.wait_ready(timeout=120)
            await asyncio.sleep(2)
            infos = [psutil.Process(p.pid).memory_full_info() for p in procs]
            rss = statistics.mean(i.rss for i in infos) / 2**20
            uss = statistics.mean(i.uss for i in infos) / 2**20
            lines.append(f"| {label} | {len(procs)} | {rss:.0f} | {uss:.0f} |")
            for p in procs:
                p.terminate()
                await p.wait()
    return lines


async def main() -> None:
    servers = _make_server(durable=True)  # commits reach the disk, as on a real server
    server = next(servers)
    try:
        url = server.new_database()
        with tempfile.TemporaryDirectory() as tmp:
            print(f"# shared state, {os.cpu_count()} cores, PostgreSQL {server.bin_dir.parent.name} on 127.0.0.1"
                  " (fsync on)\n")
            print("\n".join(await cooldowns_and_votes(url, Path(tmp))))
            print()
            print("\n".join(await memory(url, Path(tmp))))
    finally:
        for _ in servers:
            pass


if __name__ == "__main__":
    asyncio.run(main())
