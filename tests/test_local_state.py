"""LocalState, the default SharedState: votes and story choices in SQLite, cooldowns and reloads in process."""
from __future__ import annotations

import sqlite3

from bot import feedback
from bot.feedback import Vote
from bot.local_state import LocalState, SlidingWindow
from bot.settings import Settings
from bot.shared_state import open_state


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def vote(voter: int, helpful: bool, answer_id: str = "m1") -> Vote:
    return Vote(answer_id=answer_id, voter=voter, helpful=helpful, question="Who?", confidence=0.5,
                answered=True, passages=("A - para 1",))


def test_exactly_rate_per_window_whatever_the_timing():
    clock = Clock()
    window = SlidingWindow(clock)
    allowed = 0
    for _ in range(200):  # one try every 0.1 s for 20 s: a 5 per 2 s rate admits exactly 5 in any 2 s
        if window.hit(7, 5, 2.0) is None:
            allowed += 1
        clock.now += 0.1
    assert allowed == 50
    # No burst across a window boundary: after 5 at once, the next is refused until the first is 2 s old.
    clock.now += 10
    assert all(window.hit(8, 5, 2.0) is None for _ in range(5))
    clock.now += 1.5
    retry = window.hit(8, 5, 2.0)
    assert retry is not None and abs(retry - 0.5) < 1e-9
    clock.now += 0.5
    assert window.hit(8, 5, 2.0) is None
    assert window.hit(9, 5, 2.0) is None  # another user is counted apart


async def test_cooldown_through_the_protocol(tmp_path):
    clock = Clock()
    state = LocalState(tmp_path / "s.sqlite3", clock=clock)
    await state.start()
    answers = [await state.hit_cooldown(1, rate=2, per=30.0) for _ in range(3)]
    assert answers[:2] == [None, None] and answers[2] == 30.0
    clock.now += 30
    assert await state.hit_cooldown(1, rate=2, per=30.0) is None


async def test_votes_are_stored_once_per_person_and_answer(tmp_path):
    state = LocalState(tmp_path / "s.sqlite3")
    await state.start()
    await state.record_vote(vote(1, False))
    await state.record_vote(vote(1, True))  # a change of mind replaces the vote
    await state.record_vote(vote(2, False))
    rows = sqlite3.connect(tmp_path / "s.sqlite3").execute("SELECT helpful FROM votes ORDER BY id").fetchall()
    assert sorted(rows) == [(0,), (1,)]
    await state.close()


async def test_story_choices_persist_and_channel_beats_server(tmp_path):
    state = LocalState(tmp_path / "s.sqlite3")
    await state.start()
    assert await state.story_choice(5, 50) is None
    await state.set_story_choice(5, None, "alpha")
    await state.set_story_choice(5, 51, "beta")
    assert await state.story_choice(5, 50) == "alpha"
    assert await state.story_choice(5, 51) == "beta"
    assert await state.story_choice(6, 51) is None  # another server
    assert await state.story_choice(None, 51) is None  # a DM
    await state.close()
    again = LocalState(tmp_path / "s.sqlite3")  # a restart
    await again.start()
    assert await again.story_choice(5, 51) == "beta" and await again.story_choice(5, 50) == "alpha"
    await again.set_story_choice(5, 51, None)
    assert await again.story_choice(5, 51) == "alpha"


async def test_unwritable_file_keeps_choices_in_memory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    state = LocalState(blocker / "s.sqlite3")
    await state.start()
    await state.set_story_choice(1, None, "alpha")
    assert await state.story_choice(1, 2) == "alpha"


async def test_reload_announcements_reach_every_callback(tmp_path):
    state = open_state(Settings(feedback_db=tmp_path / "s.sqlite3"))
    assert isinstance(state, LocalState)
    seen = []

    async def first(story):
        seen.append(("first", story))

    async def second(story):
        seen.append(("second", story))

    state.on_reload(first)
    state.on_reload(second)
    await state.announce_reload("alpha")
    await state.announce_reload(None)
    assert seen == [("first", "alpha"), ("second", "alpha"), ("first", None), ("second", None)]


async def test_the_file_is_prepared_once_at_start_not_on_every_write(tmp_path, monkeypatch):
    db = tmp_path / "s.sqlite3"
    old = sqlite3.connect(db)  # votes as written before they named their story, no choices table yet
    old.execute("CREATE TABLE votes (id INTEGER PRIMARY KEY, at REAL NOT NULL, answer_id TEXT NOT NULL,"
                " voter TEXT NOT NULL, helpful INTEGER NOT NULL, question TEXT NOT NULL, context TEXT,"
                " confidence REAL NOT NULL, answered INTEGER NOT NULL, passages TEXT NOT NULL,"
                " UNIQUE (answer_id, voter))")
    old.commit()
    old.close()
    prepared = []
    real = feedback.prepare
    monkeypatch.setattr(feedback, "prepare", lambda conn: (prepared.append(1), real(conn))[1])
    state = LocalState(db)
    await state.start()
    conn = sqlite3.connect(db)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(votes)")}
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "story" in columns and "story_choices" in tables  # migrated at start, before any vote
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    for voter in range(3):
        await state.record_vote(vote(voter, True))
    await state.set_story_choice(1, None, "alpha")
    await state.set_story_choice(1, 2, "beta")
    assert prepared == [1]  # once, for three votes and two choices
    rows = sqlite3.connect(db).execute("SELECT voter FROM votes").fetchall()
    assert len(rows) == 3
    await state.close()


async def test_a_vote_after_the_file_was_removed_makes_it_again(tmp_path):
    db = tmp_path / "sub" / "s.sqlite3"
    state = LocalState(db)
    await state.start()
    await state.record_vote(vote(1, True))
    for leftover in db.parent.iterdir():  # an operator deletes the file (and its WAL) under the running bot
        leftover.unlink()
    db.parent.rmdir()
    await state.record_vote(vote(2, False))
    assert sqlite3.connect(db).execute("SELECT helpful FROM votes").fetchall() == [(0,)]
    await state.close()
