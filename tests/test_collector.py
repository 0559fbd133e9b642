"""collector_paused: the collector is off inside, back as it was after, and freeze is asked for only when wanted."""
from __future__ import annotations

import gc

import pytest

from bot.core.collector import collector_paused


def test_the_collector_is_off_inside_and_on_again_after_even_on_an_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with collector_paused():
            assert not gc.isenabled()
            raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_nested_pause_leaves_the_outer_one_in_force() -> None:
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_freeze_moves_what_is_alive_out_of_the_collector_passes() -> None:
    gc.unfreeze()
    try:
        with collector_paused():
            kept = [object() for _ in range(10)]
        assert gc.get_freeze_count() == 0
        with collector_paused(freeze=True):
            kept.append(object())
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
