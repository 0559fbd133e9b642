"""One module per user-facing area; each has ``async def setup(bot)`` and is loaded in ``setup_hook``."""
