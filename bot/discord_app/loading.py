"""Open the stories the Discord bot serves: the default one through the index cache, and the library of all.

Blocking work (reading article files, maybe building an index): the bot calls
these off the event loop, then :func:`freeze_heap` keeps the loaded story out
of the garbage collector's full passes. Kept apart from the client so what is
served (and from where) reads in one place, and the client is only the Discord side.
"""
from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Callable
from pathlib import Path

from ..core.library import Library
from ..core.story import Story
from ..settings import Settings

log = logging.getLogger(__name__)


def load_story(settings: Settings, warn: Callable[[str], None] | None = None) -> Story:
    """The story for ``settings.seeds``: from the index cache when the cache module is there, else built.

    Blocking (reads files, may build the index): call it through ``asyncio.to_thread``.
    """
    return load_folder(settings.seeds, settings, warn)


def load_folder(folder: Path, settings: Settings, warn: Callable[[str], None] | None = None) -> Story:
    """The story in ``folder``, through the index cache (``settings.cache_dir``). Blocking."""
    try:
        from ..core.cache import load_story as load_cached
    except ModuleNotFoundError as exc:  # the cache is optional; any other import error is a real bug
        if exc.name != f"{__package__.rsplit('.', 1)[0]}.core.cache":
            raise
        return Story.from_folder(folder)
    return load_cached(folder, cache_dir=settings.cache_dir, warn=warn or log.warning)


def open_library(settings: Settings, story: Story | None = None) -> Library:
    """The stories ``settings`` name (``STORYBOT_STORIES``, else ``STORYBOT_SEEDS``); ``story`` preloaded as the default."""
    library = Library.from_folders(stories_dir=settings.stories, seeds=settings.seeds, budget=settings.story_budget,
                                   default=settings.default_story,
                                   loader=functools.partial(load_folder, settings=settings))
    if story is not None:
        library.keep(library.default, story)
    return library


def freeze_heap() -> None:
    """Keep the story (millions of objects on a big corpus) out of the garbage collector's full passes.

    A full collection walks every tracked object with the GIL held: on a loaded story that is a pause
    of the event loop in the middle of a burst. The story lives as long as the bot (a reload freezes
    the new one; the old one stays frozen, a bounded cost paid once per reload).
    """
    gc.collect()
    gc.freeze()
