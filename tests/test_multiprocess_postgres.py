"""Two real bot processes (``python -m bot discord``) with different shard ids on one real PostgreSQL,
through the local fake Discord: what the processes share must hold whichever of them serves a user.

The fake routes each guild to its shard (guild_id >> 22) % 2, as Discord does: a user who asks in
a guild on shard 0 and in one on shard 1 is served by both processes.
"""
from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fake_discord.server import FakeDiscord, Interaction
from helpers import REPO, SEEDS, clean_env
from stories import make_stories
from pg_server import PgServer, own_postgres, postgres_server, postgres_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.postgres

QUESTIONS = ["Who paid for Alice Johnson's legal team?", "Who is Alice Johnson?",
             "When did Kim Kardashian meet Donald Trump?", "Why was Alice Johnson in prison?"]


class BotProcess:
    """One ``python -m bot discord`` process running ``shard_ids``; its log in ``log``."""

    def __init__(self, env: dict[str, str], shard_ids: str, workdir: Path) -> None:
        self.env = dict(env, STORYBOT_SHARD_IDS=shard_ids)
        self.shard_ids = [int(x) for x in shard_ids.split(",")]
        self.workdir = workdir
        self.log = workdir / f"bot-shards-{shard_ids.replace(',', '-')}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "discord", cwd=self.workdir, env=self.env,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None or self.proc.returncode is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return await asyncio.wait_for(self.proc.wait(), 15)
        except asyncio.TimeoutError:
            self.proc.kill()
            return await self.proc.wait()


@pytest.fixture(scope="session")
def built_story(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the bundled story and its index cache, built once: every bot process loads it from the cache."""
    from bot.core.cache import load_story

    root = tmp_path_factory.mktemp("multiprocess-story")
    seeds, cache = root / "seeds", root / "cache"
    shutil.copytree(SEEDS, seeds)
    load_story(seeds, cache_dir=cache)
    return seeds, cache


class Cluster:
    """The fake Discord (2 shards), and one bot process per shard sharing ``url``."""

    def __init__(self, fake: FakeDiscord, url: str, workdir: Path, seeds: Path, cache: Path, **settings: str) -> None:
        self.fake, self.url = fake, url
        env = clean_env(
            DISCORD_TOKEN=fake.token, DISCORD_API_BASE=fake.base_url, STORYBOT_SEEDS=str(seeds),
            STORYBOT_CACHE_DIR=str(cache), STORYBOT_DATABASE_URL=url, STORYBOT_SHARD_COUNT="2",
            STORYBOT_FEEDBACK_DB=str(workdir / "feedback.sqlite3"), STORYBOT_LOG_LEVEL="INFO",
            PYTHONPATH=str(REPO), **settings)
        self.bots = [BotProcess(env, "0", workdir), BotProcess(env, "1", workdir)]
        self.channels = [int(fake.guilds_on(i)[0]["channels"][0]["id"]) for i in (0, 1)]

    def replace(self, i: int, shard_ids: str) -> BotProcess:
        """A new process, with other shard ids, in place of bot ``i`` (stopped first)."""
        self.bots[i] = BotProcess({k: v for k, v in self.bots[i].env.items()}, shard_ids, self.bots[i].workdir)
        return self.bots[i]

    async def start(self, *which: int) -> None:
        for i in which or (0, 1):
            await self.bots[i].start()
        try:
            await self.fake.wait_shards_ready(list(which or (0, 1)), timeout=60)
        except AssertionError:
            raise AssertionError("bots did not connect:\n" + "\n".join(b.text()[-2000:] for b in self.bots)) from None

    async def ask(self, question: str, shard: int, user: dict[str, Any]) -> tuple[Interaction, dict[str, Any]]:
        inter = await self.fake.slash("ask", question=question, channel_id=self.channels[shard], user=user)
        return inter, await self.fake.answer_to(inter, timeout=15)

    async def vote(self, inter: Interaction, user: dict[str, Any], helpful: bool = True) -> dict[str, Any]:
        click = await self.fake.click(self.fake.original(inter), "storybot:yes:" if helpful else "storybot:no:",
                                      user=user)
        return await self.fake.answer_to(click, timeout=15)

    def logs(self) -> str:
        return "\n".join(f"--- shards {b.shard_ids}:\n{b.text()[-3000:]}" for b in self.bots)


@contextlib.asynccontextmanager
async def cluster(url: str, tmp_path: Path, built_story: tuple[Path, Path], *, seeds: Path | None = None,
                  **settings: str) -> AsyncIterator[Cluster]:
    async with FakeDiscord(shard_count=2) as fake:
        c = Cluster(fake, url, tmp_path, seeds or built_story[0], built_story[1], **settings)
        try:
            await c.start()
            yield c
        except BaseException:
            print(c.logs())  # shown by pytest when the test fails
            raise
        finally:
            for b in c.bots:
                await b.stop()
        for b in c.bots:
            assert "Traceback" not in b.text(), b.text()


def stored_votes(url: str) -> list[dict[str, Any]]:
    from bot.postgres_state import votes_in

    return votes_in(url)


def is_answer(reply: dict[str, Any]) -> bool:
    return bool(reply.get("embeds"))


def is_cooldown(reply: dict[str, Any]) -> bool:
    return "asking faster" in (reply.get("content") or "")


async def wait_for(condition, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_flood_votes_and_reload_across_two_processes(postgres_url: str, tmp_path: Path, built_story) -> None:
    async with cluster(postgres_url, tmp_path, built_story, STORYBOT_COOLDOWN_RATE="3",
                       STORYBOT_COOLDOWN_PER="120") as c:
        fake = c.fake
        assert sorted(f["d"]["shard"][0] for f in fake.gateway_frames if f.get("op") == 2) == [0, 1]
        # One user floods both processes at once: exactly the configured rate in total, not 3 per process.
        flooder = fake.user("flooder")
        replies = await asyncio.gather(*(c.ask(QUESTIONS[i % 4], i % 2, flooder) for i in range(12)))
        answered = [r for _, r in replies if is_answer(r)]
        assert len(answered) == 3, [r.get("content") for _, r in replies]
        assert sum(is_cooldown(r) for _, r in replies) == 9
        # Another user still has their own budget, in both processes.
        reader = fake.user("reader")
        answers = [await c.ask(QUESTIONS[i], i % 2, reader) for i in range(2)]
        assert all(is_answer(r) for _, r in answers)
        # Votes through both processes, from several people; one changes their mind: each stored once.
        voters = [fake.user(f"voter{i}") for i in range(3)]
        thanks = await asyncio.gather(*(c.vote(inter, v) for inter, _ in answers for v in voters))
        assert all("Thanks" in t["content"] for t in thanks)
        changed = await c.vote(answers[1][0], voters[0], helpful=False)
        assert "not helpful" in changed["content"]
        rows = stored_votes(c.url)
        assert len(rows) == 6 and len({(r["answer_id"], r["voter"]) for r in rows}) == 6
        assert sum(not r["helpful"] for r in rows) == 1
        assert {r["question"] for r in rows} == set(QUESTIONS[:2])
        # /reload through shard 0's process reaches shard 1's too.
        owner_reload = await fake.slash("reload", user=fake.owner, channel_id=c.channels[0])
        reply = await fake.answer_to(owner_reload, timeout=30)
        assert "Reloaded" in reply["content"], reply
        await wait_for(lambda: all("reload (announced)" in b.text() for b in c.bots), 30, "both processes to reload")


async def test_postgres_restart_while_bots_run(own_postgres: PgServer, tmp_path: Path, built_story) -> None:
    url = own_postgres.new_database()
    async with cluster(url, tmp_path, built_story, STORYBOT_COOLDOWN_RATE="50") as c:
        fake = c.fake
        reader = fake.user("reader")
        before = [await c.ask(QUESTIONS[i], i % 2, reader) for i in range(2)]
        await c.vote(before[0][0], reader)
        own_postgres.stop()
        # The outage: answers keep coming from both processes, votes are taken (spooled).
        during = [await c.ask(QUESTIONS[i + 2], i % 2, reader) for i in range(2)]
        assert all(is_answer(r) for _, r in during)
        voters = [fake.user(f"voter{i}") for i in range(2)]
        thanks = [await c.vote(inter, v) for inter, _ in before + during for v in voters]
        assert all(t["content"].startswith("Thanks") for t in thanks), thanks
        assert len(stored_votes_safe(url)) == 0  # the server is down: nothing could be read
        own_postgres.start()
        await wait_for(lambda: len(stored_votes_safe(url)) == 9, 30, "the spooled votes to arrive")
        await asyncio.sleep(1.5)  # another flush round: nothing is stored twice
        rows = stored_votes(url)
        assert len(rows) == 9 and len({(r["answer_id"], r["voter"]) for r in rows}) == 9
        # Reconnected and listening again: a reload still reaches both processes.
        inter = await fake.slash("reload", user=fake.owner, channel_id=c.channels[1])
        assert "Reloaded" in (await fake.answer_to(inter, timeout=30))["content"]
        await wait_for(lambda: all(b.text().count("reload (announced)") >= 1 for b in c.bots), 30, "reloads")


def story_choices(url: str) -> list[tuple[int, int, str]]:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT guild_id, channel_id, story FROM storybot_story_choices").fetchall()


def stored_votes_safe(url: str) -> list[dict[str, Any]]:
    """The stored votes, or none while the server is down."""
    import psycopg

    try:
        return stored_votes(url)
    except psycopg.OperationalError:
        return []


async def test_kill_9_loses_no_committed_vote(own_postgres: PgServer, tmp_path: Path, built_story) -> None:
    url = own_postgres.new_database()
    async with cluster(url, tmp_path, built_story, STORYBOT_COOLDOWN_RATE="50") as c:
        fake = c.fake
        reader = fake.user("reader")
        answers = [await c.ask(QUESTIONS[i], 1, reader) for i in range(2)]
        thanks = [await c.vote(inter, fake.user(f"v{i}")) for i, (inter, _) in enumerate(answers)]
        assert all(t["content"].startswith("Thanks") for t in thanks)
        # One more vote while PostgreSQL is down: spooled to disk, then the process is killed.
        own_postgres.stop()
        assert (await c.vote(answers[1][0], fake.user("late")))["content"].startswith("Thanks")
        assert await c.bots[1].stop(signal.SIGKILL) == -signal.SIGKILL
        own_postgres.start()
        # The other process (same host, same spool) delivers it; nothing acknowledged was lost.
        await wait_for(lambda: len(stored_votes_safe(url)) == 3, 30, "the killed process's votes")
        # And shard 1's process comes back and serves again.
        await c.bots[1].start()
        await fake.wait_shards_ready([1], timeout=60)
        _, reply = await c.ask(QUESTIONS[3], 1, reader)
        assert is_answer(reply)
    assert len(stored_votes(url)) == 3


async def test_story_folder_broken_during_reload_leaves_other_stories_serving(postgres_url: str, tmp_path: Path,
                                                                              built_story) -> None:
    """Two stories; one story's folder is emptied, then /reload (every story): both processes keep their
    previous bridge and keep answering from it, and alice is reloaded and keeps answering."""
    root = make_stories(tmp_path / "stories")
    async with cluster(postgres_url, tmp_path, built_story, STORYBOT_STORIES=str(root),
                       STORYBOT_COOLDOWN_RATE="50") as c:
        fake = c.fake
        bridge_channels = [int(fake.guilds_on(i)[0]["channels"][0]["id"]) for i in (0, 1)]
        for channel in bridge_channels:  # a server on each shard answers from bridge in its #general
            await fake.answer_to(await fake.slash("story", subcommand="set", story="bridge", user=fake.owner,
                                                  channel_id=channel), timeout=30)
        reader = fake.user("reader")
        for shard in (0, 1):  # bridge loaded in both processes, alice (#random of shard 0's server) in one
            _, bridge = await c.ask("Who cut the ribbon when the bridge reopened?", shard, reader)
            assert bridge["embeds"][0]["footer"]["text"].endswith("Story: bridge")
        inter = await fake.slash("ask", question=QUESTIONS[0], channel_id=fake.other_channel_id, user=reader)
        assert (await fake.answer_to(inter, timeout=15))["embeds"][0]["footer"]["text"].endswith("Story: alice")
        for f in (root / "bridge").glob("*.txt"):  # bridge's articles are deleted under the running bots
            f.unlink()
        inter = await fake.slash("reload", user=fake.owner, channel_id=c.channels[0])
        reply = await fake.answer_to(inter, timeout=60)
        assert "Reload failed for the story bridge" in reply["content"] and "Still answering" in reply["content"]
        assert "Reloaded the story alice" in reply["content"]
        await wait_for(lambda: all("reload (announced)" in b.text() for b in c.bots), 30, "both processes to reload")
        for shard in (0, 1):
            _, bridge = await c.ask("Who cut the ribbon when the bridge reopened?", shard, reader)
            assert bridge["embeds"][0]["footer"]["text"].endswith("Story: bridge")  # the version loaded before
            assert "Halvorsen" in bridge["embeds"][0]["description"]
        inter = await fake.slash("ask", question=QUESTIONS[0], channel_id=fake.other_channel_id, user=reader)
        alice = await fake.answer_to(inter, timeout=15)
        assert alice["embeds"][0]["footer"]["text"].endswith("Story: alice") and is_answer(alice)
    assert not list((root / "bridge").glob("*.txt"))


async def test_story_choice_and_buttons_carry_over_to_another_process(postgres_url: str, tmp_path: Path,
                                                                      built_story) -> None:
    """A /story set through shard 0's process, and an answer it sent, both work when shard 0 has moved
    to another process (here: the process that ran shard 1 is restarted to run shards 0 and 1)."""
    root = make_stories(tmp_path / "stories")
    async with cluster(postgres_url, tmp_path, built_story, STORYBOT_STORIES=str(root),
                       STORYBOT_COOLDOWN_RATE="50") as c:
        fake, channel = c.fake, c.channels[0]
        chosen = await fake.answer_to(await fake.slash("story", subcommand="set", story="bridge", user=fake.owner,
                                                       channel_id=channel), timeout=30)
        assert "bridge" in chosen["content"], chosen
        inter, answer = await c.ask("Who cut the ribbon when the bridge reopened?", 0, fake.user("reader"))
        assert answer["embeds"][0]["footer"]["text"].endswith("Story: bridge")
        assert story_choices(c.url) == [(int(fake.guilds_on(0)[0]["id"]), channel, "bridge")]  # in PostgreSQL
        message = fake.original(inter)
        for b in c.bots:
            assert await b.stop() == 0
        other = c.replace(1, "0,1")
        await other.start()
        await fake.wait_shards_ready([0, 1], timeout=60)
        # The choice was made through a process that is gone: the other one obeys it.
        _, again = await c.ask("Who is Alice Johnson?", 0, fake.user("reader2"))
        assert again["embeds"][0]["footer"]["text"].endswith("Story: bridge"), again
        _, elsewhere = await c.ask("Who is Alice Johnson?", 1, fake.user("reader2"))
        assert elsewhere["embeds"][0]["footer"]["text"].endswith("Story: alice")
        # The buttons of the answer sent by the stopped process work in the new one.
        voter = fake.user("voter")
        thanks = await fake.answer_to(await fake.click(message, "storybot:yes:", user=voter), timeout=15)
        assert thanks["content"].startswith("Thanks"), thanks
        [row] = stored_votes(c.url)
        assert row["answer_id"] == message["id"] and row["question"] == "Who cut the ribbon when the bridge reopened?"
        assert row["passages"] and row["helpful"] is True and row["story"] == "bridge"
