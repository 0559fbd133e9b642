"""Gateway shards: STORYBOT_SHARD_IDS / STORYBOT_SHARD_COUNT, discord.py's AutoShardedBot, through the fake.

The fake routes each guild's events to the connection that identified as its shard, as Discord
does, so a question only reaches the process that runs the guild's shard.
"""
from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from bot.discord_app import ShardedStoryBot, StoryBot, make_bot, serve
from bot.settings import Settings, SettingsError
from fake_discord.harness import bot_settings, shared_story
from fake_discord.server import FakeDiscord


def test_shard_settings_read_and_checked(tmp_path: Path) -> None:
    none = tmp_path / "none.env"
    s = Settings.from_env({"STORYBOT_SHARD_COUNT": "4", "STORYBOT_SHARD_IDS": "3, 1"}, dotenv=none)
    assert s.shard_count == 4 and s.shard_ids == (1, 3)
    assert Settings.from_env({}, dotenv=none).shard_count is None
    assert Settings.from_env({"STORYBOT_SHARD_COUNT": "2"}, dotenv=none).shard_ids is None  # all in one process
    for env, says in [({"STORYBOT_SHARD_IDS": "0"}, "STORYBOT_SHARD_COUNT"),
                      ({"STORYBOT_SHARD_COUNT": "2", "STORYBOT_SHARD_IDS": "2"}, "below"),
                      ({"STORYBOT_SHARD_COUNT": "0"}, "at least 1"),
                      ({"STORYBOT_SHARD_COUNT": "2", "STORYBOT_SHARD_IDS": "one"}, "numeric")]:
        with pytest.raises(SettingsError, match=says):
            Settings.from_env(env, dotenv=none)
    url = "postgresql://bot:secret-pw@db.example/storybot"
    with_db = Settings.from_env({"STORYBOT_DATABASE_URL": url}, dotenv=none)
    assert with_db.database_url == url and "secret-pw" not in repr(with_db)


def test_unsharded_by_default(tmp_path: Path) -> None:
    settings = Settings(discord_token="t", feedback_db=tmp_path / "f.sqlite3")
    assert type(make_bot(settings, story=shared_story())) is StoryBot
    sharded = make_bot(Settings(discord_token="t", feedback_db=tmp_path / "f.sqlite3", shard_count=2, shard_ids=(1,)),
                       story=shared_story())
    assert isinstance(sharded, ShardedStoryBot) and sharded.shard_ids == [1] and sharded.shard_count == 2


@contextlib.asynccontextmanager
async def sharded_bot(fake: FakeDiscord, tmp_path: Path, shard_ids: tuple[int, ...] | None):
    settings = bot_settings(fake, tmp_path, guild=None, shard_count=fake.shard_count, shard_ids=shard_ids)
    bot = make_bot(settings, story=shared_story())
    task = asyncio.create_task(serve(bot))
    try:
        await fake.wait_shards_ready(list(shard_ids) if shard_ids else range(fake.shard_count))
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


async def test_one_process_runs_every_shard_and_answers_in_each(tmp_path: Path) -> None:
    async with FakeDiscord(shard_count=2) as fake, sharded_bot(fake, tmp_path, None) as bot:
        frames = [f["d"]["shard"] for f in fake.gateway_frames if f.get("op") == 2]
        assert sorted(frames) == [[0, 2], [1, 2]]
        assert sorted(bot.shards) == [0, 1]
        for shard in (0, 1):
            guild = fake.guilds_on(shard)[0]
            channel = int(guild["channels"][0]["id"])
            inter = await fake.slash("ask", question="Who paid for Alice Johnson's legal team?", channel_id=channel)
            answer = await fake.answer_to(inter, timeout=10)
            assert answer.get("embeds"), answer


async def test_a_process_only_hears_its_own_shards(tmp_path: Path) -> None:
    async with FakeDiscord(shard_count=2) as fake, sharded_bot(fake, tmp_path, (1,)):
        [identify] = [f["d"]["shard"] for f in fake.gateway_frames if f.get("op") == 2]
        assert identify == [1, 2]
        theirs = int(fake.guilds_on(0)[0]["channels"][0]["id"])
        ours = int(fake.guilds_on(1)[0]["channels"][0]["id"])
        mark = fake.mark()
        await fake.slash("ask", question="Who is Alice Johnson?", channel_id=theirs)  # shard 0: nobody runs it
        inter = await fake.slash("ask", question="Who is Alice Johnson?", channel_id=ours)
        await fake.answer_to(inter, timeout=10)
        callbacks = fake.find("POST", r"/interactions/\d+/[^/]+/callback$", after=mark)
        assert [r.path.split("/")[2] for r in callbacks] == [str(inter.id)]


async def test_a_wrong_shard_count_stops_with_one_line(tmp_path: Path, capfd) -> None:
    async with FakeDiscord(shard_count=2) as fake:
        settings = bot_settings(fake, tmp_path, guild=None, shard_count=3, shard_ids=(2,))
        bot = make_bot(settings, story=shared_story())
        try:
            code = await asyncio.wait_for(serve(bot), 30)
        finally:
            await bot.close()
    assert code == 2
    err = capfd.readouterr().err
    assert "4010" in err and "STORYBOT_SHARD_COUNT" in err and "Traceback" not in err
