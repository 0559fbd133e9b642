"""A feedback database that cannot be written (full disk, bad path) loses no answer.

The vote gets a short private note, the cause goes to the log with the
question, and the bot keeps answering.
"""
from __future__ import annotations

import logging

from fake_discord.harness import assert_all_payloads_safe, fake, run_bot  # noqa: F401

QUESTION = "Who paid for Alice Johnson's legal team?"


async def test_unwritable_feedback_database_is_a_note_and_a_log_line(fake, tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")
    async with run_bot(fake, tmp_path, feedback_db=blocker / "feedback.sqlite3"):
        inter = await fake.slash("ask", question=QUESTION)
        await fake.response(inter)
        with caplog.at_level(logging.ERROR):
            note = await fake.answer_to(await fake.click(fake.original(inter), "storybot:yes:", user=fake.user("v")))
        assert note["flags"] & 64 and "couldn't record" in note["content"]
        assert any("could not record a vote" in r.getMessage() and QUESTION in r.getMessage() for r in caplog.records)
        # The bot still answers.
        again = await fake.slash("ask", question="How long has Alice Johnson been in prison?")
        first = await fake.response(again)
        assert first.json["type"] in (4, 5)
        assert_all_payloads_safe(fake)
