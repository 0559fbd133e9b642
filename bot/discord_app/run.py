"""Running the bot as a process: log in, stay connected, stop and reload on signals.

``run_discord`` owns the process: it logs in (a rejected token is one line
and exit code 2), retries with backoff while Discord is unreachable, reloads
every story on SIGHUP and stops cleanly on SIGTERM.
"""
from __future__ import annotations

import asyncio
import signal
import sys

import aiohttp
import discord

from ..core.library import StoryUnavailable
from ..core.story import CorpusError
from ..settings import Settings
from .client import EXIT_OK, EXIT_USAGE, StoryBot, make_bot


def _say(line: str) -> None:
    print(f"storybot: {line}", file=sys.stderr, flush=True)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


GATEWAY_FATAL = {
    4004: "it rejected DISCORD_TOKEN; copy the bot token again from the Developer Portal (Bot > Reset Token)",
    4010: "invalid shard; check STORYBOT_SHARD_IDS and STORYBOT_SHARD_COUNT (the same count in every process)",
    4011: "this bot is in too many servers for one connection; set STORYBOT_SHARD_COUNT (see the README)",
    4012: "invalid API version; discord.py needs updating",
    4013: "invalid intents; this discord.py does not match the gateway",
}
UNREACHABLE = (OSError, aiohttp.ClientError, asyncio.TimeoutError, discord.DiscordServerError, discord.GatewayNotFound)


async def serve(bot: StoryBot, *, max_delay: float = 60.0) -> int:
    """Log in and stay connected until closed; the exit code (0, or 2 for a token or intent problem)."""
    token = bot.settings.discord_token
    if not token:
        _say("error: DISCORD_TOKEN is not set: put it in the environment or in .env (see .env.example)")
        return EXIT_USAGE
    delay = 1.0
    while True:
        try:
            await bot.login(token)
            break
        except discord.LoginFailure:
            _say("error: Discord rejected DISCORD_TOKEN (401 Unauthorized): "
                 "copy the bot token again from the Developer Portal (Bot > Reset Token)")
            return EXIT_USAGE
        except (CorpusError, StoryUnavailable) as exc:
            _say(f"error: {exc}")
            return EXIT_USAGE
        except UNREACHABLE as exc:
            _say(f"cannot reach Discord at {bot.settings.api_base} ({_reason(exc)}); retrying in {delay:.0f} s")
            await bot.http.close()  # closes its connector too: let the next login make a new one
            bot.http.connector = discord.utils.MISSING
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
            if bot.is_closed():  # stopped (SIGTERM) while waiting
                return EXIT_OK
    while not bot.is_closed():
        try:
            await bot.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            _say("error: Discord refused the Message Content intent, which STORYBOT_CHANNELS and STORYBOT_THREADS "
                 "need: enable it in the Developer Portal (Bot > Privileged Gateway Intents), or unset both")
            return EXIT_USAGE
        except discord.ConnectionClosed as exc:
            # The close codes discord.py does not reconnect after: a setting or the code must change.
            if exc.code in GATEWAY_FATAL:
                _say(f"error: Discord closed the gateway with {exc.code}: {GATEWAY_FATAL[exc.code]}")
                return EXIT_USAGE
            raise
        except UNREACHABLE as exc:
            if bot.is_closed():
                break
            _say(f"cannot reach Discord's gateway ({_reason(exc)}); retrying in {delay:.0f} s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
        else:
            break
    return EXIT_OK


async def run_discord(settings: Settings) -> int:
    """Run the bot until SIGTERM/SIGINT; SIGHUP reloads the story. Returns the exit code."""
    loop = asyncio.get_running_loop()
    bot = make_bot(settings)
    handled: list[int] = []

    def reload_on_hup() -> None:
        async def reload() -> None:
            await bot.reload_story("SIGHUP")  # logs success or why it failed
        asyncio.ensure_future(reload())

    def stop() -> None:
        asyncio.ensure_future(bot.close())

    for sig, handler in ((getattr(signal, "SIGHUP", None), reload_on_hup), (signal.SIGTERM, stop)):
        if sig is None:
            continue
        try:
            loop.add_signal_handler(sig, handler)
            handled.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
            pass
    try:
        async with bot:
            return await serve(bot)
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)

