"""Votes that wait for the shared database, in a spool file that survives crashes and is safe across processes.

When PostgreSQL is unreachable (``bot/postgres_state.py``) a vote is appended here, fsynced, and sent
when the server is back; the store's upsert makes a vote sent twice count once. No database or
discord import here: a plain file with a lock.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .feedback import Vote
from .feedback import _voter_key as voter_key  # the same hash as the SQLite store

log = logging.getLogger(__name__)


def vote_row(vote: Vote, at: float) -> dict[str, Any]:
    """The row stored for ``vote`` (the voter hashed, as in the SQLite store)."""
    return dict(answer_id=vote.answer_id, voter=voter_key(vote.voter), at=at, helpful=bool(vote.helpful),
                question=vote.question, context=vote.context, confidence=float(vote.confidence),
                answered=bool(vote.answered), passages=json.dumps(list(vote.passages), ensure_ascii=False),
                story=vote.story)


class VoteSpool:
    """Votes waiting for the server, in JSON-lines files next to ``path``; safe across processes.

    Appends are fsynced under an exclusive lock on ``path.lock``. A flush moves the spool aside
    (under the lock) to a ``.sending-*`` file, which is deleted only once every vote in it is stored;
    a process killed mid-flush leaves that file for the next flush, which sends it again (harmless:
    the upsert stores each vote once).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def _locked(self) -> Iterable[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, row: dict[str, Any]) -> None:
        """Blocking: call through ``asyncio.to_thread``."""
        line = json.dumps(row, ensure_ascii=False) + "\n"
        with self._locked(), open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def take(self) -> list[Path]:
        """Move the spool aside and return every file waiting to be sent (older leftovers included)."""
        with self._locked():
            if self.path.is_file() and self.path.stat().st_size:
                os.replace(self.path, self.path.with_name(f"{self.path.name}.sending-{os.getpid()}-{time.time_ns()}"))
        return sorted(self.path.parent.glob(self.path.name + ".sending-*"))

    def pending(self) -> bool:
        return (self.path.is_file() and self.path.stat().st_size > 0) or any(
            self.path.parent.glob(self.path.name + ".sending-*"))

    @staticmethod
    def rows(path: Path) -> list[dict[str, Any]]:
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by a crash mid-write: nothing was promised for it
                log.warning("skipping a damaged line in the vote spool %s", path)
        return rows
