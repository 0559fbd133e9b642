"""The feedback store: votes are written, one per person per answer, and summarised."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from bot.feedback import FeedbackStore, Vote, summary_lines


def _vote(answer_id: str = "a1", voter: int = 1, helpful: bool = True, question: str = "who?") -> Vote:
    return Vote(answer_id, voter, helpful, question, 0.5, True, ("Headline - para 3",))


def test_summary_of_missing_file_says_so(tmp_path: Path) -> None:
    lines = summary_lines(tmp_path / "none.sqlite3")
    assert len(lines) == 1 and "No feedback" in lines[0]


def test_votes_are_recorded_and_summarised(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "fb.sqlite3"
    store = FeedbackStore(db)
    store.record(_vote("a1", 1, True))
    store.record(_vote("a2", 1, False, "what colour is the sky?"))
    store.record(_vote("a3", 2, False, "what colour is the sky?"))
    lines = summary_lines(db)
    assert "3 votes, 1 helpful" in lines[0]
    assert any("2 x" in line and "sky" in line for line in lines)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    row = conn.execute("SELECT voter, passages FROM votes WHERE answer_id='a1'").fetchone()
    conn.close()
    assert row[0] != "1"  # the raw user id is not stored
    assert "para 3" in row[1]


def test_a_second_vote_replaces_the_first(tmp_path: Path) -> None:
    db = tmp_path / "fb.sqlite3"
    store = FeedbackStore(db)
    store.record(_vote("a1", 7, True))
    store.record(_vote("a1", 7, False))
    assert "1 votes, 0 helpful" in summary_lines(db)[0]


def test_feedback_does_not_import_discord() -> None:
    # The CLI's `feedback` command must work without loading discord.py.
    code = "import sys, bot.feedback; print('discord' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_votes_name_their_story_and_an_older_file_gains_the_column(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    old = sqlite3.connect(db)  # the table as storybot wrote it before votes named their story
    old.execute("CREATE TABLE votes (id INTEGER PRIMARY KEY, at REAL NOT NULL, answer_id TEXT NOT NULL,"
                " voter TEXT NOT NULL, helpful INTEGER NOT NULL, question TEXT NOT NULL, context TEXT,"
                " confidence REAL NOT NULL, answered INTEGER NOT NULL, passages TEXT NOT NULL,"
                " UNIQUE (answer_id, voter))")
    old.execute("INSERT INTO votes (at, answer_id, voter, helpful, question, confidence, answered, passages)"
                " VALUES (1.0, 'a0', 'x', 0, 'old question?', 0.2, 0, '[]')")
    old.commit()
    old.close()
    store = FeedbackStore(db)
    store.record(Vote("a1", 1, False, "who cut the ribbon?", 0.4, False, ("Bridge - para 3",), story="bridge"))
    store.record(Vote("a2", 2, False, "who cut the ribbon?", 0.4, False, ("Alice - para 1",), story="alice"))
    rows = sqlite3.connect(db).execute("SELECT answer_id, story FROM votes ORDER BY id").fetchall()
    assert rows == [("a0", None), ("a1", "bridge"), ("a2", "alice")]
    lines = summary_lines(db)
    assert "3 votes, 0 helpful" in lines[0]
    assert any("story bridge, confidence" in line for line in lines)
    assert any("story alice, confidence" in line for line in lines)
    assert any("old question?" in line and "(confidence" in line for line in lines)
