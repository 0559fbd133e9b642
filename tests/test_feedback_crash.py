"""Feedback survives a crash: kill -9 during a burst loses at most the vote in flight."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO

WRITER = r"""
import sys
from pathlib import Path
from bot.feedback import FeedbackStore, Vote
store = FeedbackStore(Path(sys.argv[1]))
for n in range(1, 100_000):
    store.record(Vote(answer_id=f"a{n}", voter=n, helpful=n % 2 == 0, question=f"question {n}?",
                      confidence=0.5, answered=True, passages=("p1", "p2")))
    print(n, flush=True)  # acknowledged: committed before this line is written
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("kill_after", [50, 300])
def test_kill_9_during_a_burst_loses_at_most_the_vote_in_flight(tmp_path: Path, kill_after: int) -> None:
    db = tmp_path / "feedback.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    acknowledged = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            acknowledged = int(line)
            if acknowledged >= kill_after:
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = conn.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
        ids = {r[0] for r in conn.execute("SELECT answer_id FROM votes")}
    finally:
        conn.close()
    # Every acknowledged vote is there; at most one more (written, not yet acknowledged).
    assert {f"a{n}" for n in range(1, acknowledged + 1)} <= ids
    assert acknowledged <= stored <= acknowledged + 1
