"""`python -m bot discord` as an operator runs it: a rejected token, Discord unreachable, SIGHUP reload, SIGTERM."""
from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import sys

from bot.discord_app import StoryBot, serve
from fake_discord.harness import SEEDS, bot_settings, fake, shared_story  # noqa: F401
from helpers import clean_env

NEW_ARTICLE = "A sixth article about the clemency\n\nThe commutation came one week after the meeting in the Oval Office.\n"


async def start(tmp_path, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "discord", cwd=tmp_path, env=clean_env(**env),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def read_until(proc: asyncio.subprocess.Process, needle: str, seen: list[str], timeout: float = 20) -> str:
    async def scan() -> str:
        while True:
            line = (await proc.stderr.readline()).decode("utf-8", "replace")
            if not line:
                raise AssertionError(f"exited without {needle!r}; stderr:\n{''.join(seen)}")
            seen.append(line)
            if needle in line:
                return line
    return await asyncio.wait_for(scan(), timeout)


async def test_rejected_token_is_one_line_and_exit_2(fake, tmp_path):
    proc = await start(tmp_path, DISCORD_TOKEN="not-the-token", DISCORD_API_BASE=fake.base_url,
                       STORYBOT_SEEDS=str(SEEDS))
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    lines = [line for line in err.decode().splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    assert len(errors) == 1 and "rejected DISCORD_TOKEN" in errors[0], err.decode()
    assert "Traceback" not in err.decode() and "not-the-token" not in (out + err).decode()
    assert fake.find("GET", "^/users/@me$")


async def test_missing_token_is_one_line_and_exit_2(tmp_path):
    proc = await start(tmp_path, STORYBOT_SEEDS=str(SEEDS))  # no token: `discord` refuses
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2 and err.decode().count("\n") == 1 and "DISCORD_TOKEN is not set" in err.decode()


async def test_unreachable_discord_is_retried_with_backoff(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await start(tmp_path, DISCORD_TOKEN="some-token", DISCORD_API_BASE=f"http://127.0.0.1:{port}/api/v10",
                       STORYBOT_SEEDS=str(SEEDS))
    seen: list[str] = []
    first = await read_until(proc, "cannot reach Discord", seen)
    assert "retrying in 1 s" in first
    second = await read_until(proc, "cannot reach Discord", seen)
    assert "retrying in 2 s" in second
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.wait(), 20)
    assert proc.returncode == 0 and "Traceback" not in "".join(seen)


async def test_sighup_reloads_and_the_token_never_shows(fake, tmp_path):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    proc = await start(tmp_path, DISCORD_TOKEN=fake.token, DISCORD_API_BASE=fake.base_url,
                       STORYBOT_GUILD=str(fake.guild_id), STORYBOT_SEEDS=str(seeds), STORYBOT_LOG_LEVEL="DEBUG",
                       STORYBOT_FEEDBACK_DB=str(tmp_path / "fb.sqlite3"))
    seen: list[str] = []
    try:
        await fake.wait_ready(timeout=60)
        (seeds / "005_sixth.txt").write_text(NEW_ARTICLE, encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        line = await read_until(proc, "reload (SIGHUP)", seen)
        assert "6 articles" in line
        msg = await fake.answer_to(await fake.slash("sources"), timeout=10)
        assert msg["embeds"][0]["description"].count("\n") == 5
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    everything = "".join(seen) + err.decode() + out.decode()
    assert fake.token not in everything and "Traceback" not in everything


async def test_refused_message_content_intent_is_one_line_and_exit_2(fake, tmp_path, capsys):
    fake.reject_identify_code = 4014  # what Discord does when the intent is off in the portal
    bot = StoryBot(bot_settings(fake, tmp_path, channels=frozenset({fake.channel_id})), story=shared_story())
    async with bot:
        code = await asyncio.wait_for(serve(bot), 20)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Message Content intent" in err
