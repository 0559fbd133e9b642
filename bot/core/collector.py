"""Pausing Python's cyclic garbage collector while a story is loaded.

Loading a story (importing numpy and scipy, unpickling the index cache) makes
tens of thousands of objects that all live as long as the process; each few
hundred new objects would otherwise start a collection that walks them all
again, for nothing. This module imports only :mod:`gc`, so the command line can
pause the collector before it imports the engine.
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused(*, freeze: bool = False) -> Iterator[None]:
    """The cyclic garbage collector off for the block, then back as it was (a nested pause leaves it off).

    ``freeze``: on leaving, move every object then alive out of the collector's
    later passes (``gc.freeze``), for objects that live as long as the process.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()
