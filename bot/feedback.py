"""Record 'Helpful' / 'Not helpful' votes in a local SQLite file, and summarise them.

An operator reads the summary (``python -m bot feedback``) to see which
questions the bot fails on. Each vote is committed on its own, in WAL mode, so
a crash loses at most the vote being written and a reader never blocks the
bot. No discord import here: the store is a plain value-in, row-out module.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    answer_id TEXT NOT NULL,
    voter TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    question TEXT NOT NULL,
    context TEXT,
    confidence REAL NOT NULL,
    answered INTEGER NOT NULL,
    passages TEXT NOT NULL,
    story TEXT,
    UNIQUE (answer_id, voter)
);
"""


@dataclass(frozen=True)
class Vote:
    """One person's verdict on one answer, with what they were shown."""

    answer_id: str  # the answer's id in the buttons' custom ids
    voter: int  # Discord user id; stored hashed, only to keep one vote per person
    helpful: bool
    question: str
    confidence: float
    answered: bool
    passages: tuple[str, ...]  # citation labels of the passages shown, in order
    context: str | None = None
    story: str | None = None  # which story answered, when the bot serves several


def _voter_key(user_id: int) -> str:
    # A hash is enough to keep one vote per person per answer; the raw id is not needed.
    return hashlib.sha256(str(user_id).encode()).hexdigest()[:16]


def connect(db_path: Path) -> sqlite3.Connection:
    """A connection to the file, nothing else: the schema is :func:`prepare`'s, once per file opened."""
    return sqlite3.connect(db_path, timeout=5.0)


def prepare(conn: sqlite3.Connection) -> None:
    """WAL mode, the votes table, and the story column a file written before it lacks.

    Run once when a store opens its file, not on every vote: WAL mode is kept by
    the file itself, and the table and the column only need making once.
    """
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(_SCHEMA)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(votes)")}
    if "story" not in columns:  # a file written before votes named their story
        conn.execute("ALTER TABLE votes ADD COLUMN story TEXT")


def _opened(db_path: Path) -> sqlite3.Connection:
    conn = connect(db_path)
    try:
        prepare(conn)
    except BaseException:
        conn.close()
        raise
    return conn


class FeedbackStore:
    """Appends votes to ``db_path``; a second vote by the same person replaces the first.

    The file is made ready (:func:`prepare`) by :meth:`open`, or by the first
    vote; a vote then only inserts its row. Should the file be replaced by an
    empty one meanwhile (deleted by hand), the vote prepares it again.
    """

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self._ready = False
        self._opening = threading.Lock()  # votes are written from worker threads

    def open(self, conn: sqlite3.Connection | None = None) -> None:
        """Make the file ready for votes (folder, WAL, table, column). Blocking; idempotent.

        ``conn``: a connection to the file to prepare it through (a caller that
        has one open already, e.g. :class:`bot.local_state.LocalState`).
        """
        with self._opening:
            if conn is not None:
                prepare(conn)
            else:
                self.db_path.parent.mkdir(parents=True, exist_ok=True)
                _opened(self.db_path).close()
            self._ready = True

    def record(self, vote: Vote) -> None:
        """Write one vote and commit it. Blocking: call it through ``asyncio.to_thread``."""
        if not self._ready:
            self.open()
        try:
            self._insert(vote)
        except sqlite3.OperationalError as exc:
            if not any(why in str(exc) for why in ("no such table", "unable to open")):
                raise
            self._ready = False  # the file or its folder was removed since it was opened: make it ready again
            self.open()
            self._insert(vote)

    def _insert(self, vote: Vote) -> None:
        conn = connect(self.db_path)
        try:
            with conn:  # commits, or rolls back on error
                conn.execute(
                    "INSERT OR REPLACE INTO votes (at, answer_id, voter, helpful, question, context,"
                    " confidence, answered, passages, story) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        time.time(),
                        vote.answer_id,
                        _voter_key(vote.voter),
                        int(vote.helpful),
                        vote.question,
                        vote.context,
                        float(vote.confidence),
                        int(vote.answered),
                        json.dumps(list(vote.passages), ensure_ascii=False),
                        vote.story,
                    ),
                )
        finally:
            conn.close()


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_lines(db_path: Path, *, worst: int = 10) -> list[str]:
    """A few lines for an operator: totals, then the questions most often marked not helpful."""
    db_path = Path(db_path)
    if not db_path.is_file():
        return [f"No feedback recorded yet ({db_path} does not exist)."]
    conn = _opened(db_path)  # an older file gains the story column the summary reads
    try:
        total, helpful = conn.execute("SELECT COUNT(*), COALESCE(SUM(helpful), 0) FROM votes").fetchone()
        if not total:
            return [f"No feedback recorded yet in {db_path}."]
        abstained = conn.execute("SELECT COUNT(*) FROM votes WHERE answered = 0 AND helpful = 0").fetchone()[0]
        rows: Sequence[tuple[str, str | None, int, float]] = conn.execute(
            "SELECT question, story, COUNT(*) AS n, AVG(confidence) FROM votes WHERE helpful = 0"
            " GROUP BY story, question ORDER BY n DESC, MAX(at) DESC LIMIT ?",
            (worst,),
        ).fetchall()
    finally:
        conn.close()
    return summary_of(str(db_path), total, helpful, abstained, rows)


def summary_of(where: str, total: int, helpful: int, abstained: int,
               worst: Sequence[tuple[str, str | None, int, float]]) -> list[str]:
    """The operator's summary from the counts, whichever store they were read from (SQLite or PostgreSQL)."""
    lines = [
        f"Feedback in {where}: {total} votes, {helpful} helpful ({100 * helpful / total:.0f}%),"
        f" {total - helpful} not helpful ({abstained} of them on answers below the confidence threshold).",
    ]
    if worst:
        lines.append("Questions most often marked not helpful:")
        lines.extend(f"  {n:>3} x  {_short(q)}  ({f'story {story}, ' if story else ''}confidence {conf:.2f})"
                     for q, story, n, conf in worst)
    return lines
