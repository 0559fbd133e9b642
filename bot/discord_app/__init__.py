"""The Discord front end: slash commands, questions in chat, cited answers.

``run_discord(settings)`` runs the bot and returns an exit code. Rendering
(``render``) and Discord's limits (``limits``) are pure; the cogs glue the
core's ``Story.ask`` to them. No retrieval logic lives here.
"""
from .client import ShardedStoryBot, StoryBot, make_bot
from .loading import load_story
from .run import run_discord, serve

__all__ = ["ShardedStoryBot", "StoryBot", "load_story", "make_bot", "run_discord", "serve"]
