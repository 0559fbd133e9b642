"""What a Discord user is told when something fails: a short private note, never a traceback or a ping.

The real error is logged where it happened (the client's tree error handler,
the views' ``on_error``); this module only holds the user's side, shared by
both so every failure reads the same and mentions no one.
"""
from __future__ import annotations

import asyncio
import logging

import aiohttp
import discord
from discord import app_commands

from . import limits

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
EXPIRED_INTERACTION = (10062, 10015)  # Unknown interaction (callback), Unknown Webhook (follow-up)


async def tell_user_something_went_wrong(interaction: discord.Interaction, text: str | None = None) -> None:
    """A short private message for the user after an error; never raises."""
    text = limits.content(text or "Sorry, something went wrong on my side. The operator has the details; please try again.")
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
    except (discord.HTTPException, aiohttp.ClientError, asyncio.TimeoutError) as exc:
        log.warning("could not tell user %s about an error (interaction %s): %s", interaction.user.id, interaction.id, exc)


class AdminOnly(app_commands.CheckFailure):
    """Raised when someone who may not runs an admin command; the message is what they are told."""
