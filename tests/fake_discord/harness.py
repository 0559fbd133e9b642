"""Run the real bot (``bot.discord_app.serve``) against a FakeDiscord, and check what it sent.

Import the fixtures into a test module with
``from fake_discord.harness import fake, bot  # noqa: F401`` (pytest finds
them there); ``run_bot`` gives other settings.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.story import Story
from bot.discord_app import StoryBot, serve
from bot.discord_app.limits import limit_problems
from bot.settings import Settings

from .server import FakeDiscord, Request

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"


@functools.cache
def shared_story() -> Story:
    """The bundled story, built once per test session (the core is real, never mocked)."""
    return Story.from_folder(SEEDS)


def bot_settings(fake: FakeDiscord, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(seeds=SEEDS, discord_token=fake.token, api_base=fake.base_url,
                                  guild=fake.guild_id, feedback_db=tmp_path / "feedback.sqlite3",
                                  cache_dir=tmp_path / "cache")
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def run_bot(fake: FakeDiscord, tmp_path: Path, *, story: Story | None | str = "shared", ready: bool = True,
                  **overrides: Any) -> AsyncIterator[StoryBot]:
    """The bot, logged in and connected to ``fake`` (READY and GUILD_CREATE received when ``ready``).

    ``story``: the bundled story built once per session (default), a given one, or ``None`` for the bot to
    load its own (from ``seeds``, or the default of ``stories``) as in production.
    """
    bot = StoryBot(bot_settings(fake, tmp_path, **overrides), story=shared_story() if story == "shared" else story)
    task = asyncio.create_task(serve(bot), name="storybot")
    bot.serve_task = task  # type: ignore[attr-defined]  # serve()'s exit code, for tests that stop the bot
    try:
        if ready:
            waiter = asyncio.ensure_future(fake.wait_ready())
            done, _ = await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                waiter.cancel()
                raise AssertionError(f"the bot stopped before connecting (exit code {task.result()})")
            waiter.result()
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


def message_payloads(fake: FakeDiscord) -> list[tuple[Request, dict[str, Any]]]:
    """Every request body that carries a message (or autocomplete choices), with its request."""
    out = []
    for r in fake.requests:
        if r.method not in ("POST", "PATCH") or not isinstance(r.json, dict):
            continue
        if r.path.endswith("/callback"):
            data = r.json.get("data")
            if isinstance(data, dict) and r.json.get("type") in (4, 7, 8):
                out.append((r, data))
        elif "/messages" in r.path or r.path.startswith("/webhooks/"):
            out.append((r, r.json))
    return out


def assert_all_payloads_safe(fake: FakeDiscord) -> int:
    """Every message the bot sent is within Discord's limits and can ping no one; returns how many."""
    payloads = message_payloads(fake)
    bad = [(r, p) for r, _ in payloads for p in [limit_problems(_)] if p]
    assert not bad, "\n".join(f"{r!r}: {p}" for r, p in bad)
    for r, data in payloads:
        if r.path.endswith("/threads"):
            continue
        if "choices" not in data:
            am = data.get("allowed_mentions")
            assert am is not None and am.get("parse") == [] and not am.get("replied_user"), (r, am)
    return len(payloads)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as f:
        yield f


@pytest.fixture
async def bot(fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[StoryBot]:
    async with run_bot(fake, tmp_path) as b:
        yield b

