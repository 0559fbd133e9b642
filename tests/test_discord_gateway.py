"""The gateway going away: the bot resumes (or identifies again) and still answers."""
from __future__ import annotations

import pytest

from fake_discord.harness import bot, fake  # noqa: F401

QUESTION = "Who paid for Alice Johnson's legal team?"


async def answered(fake) -> None:
    msg = await fake.answer_to(await fake.slash("ask", question=QUESTION), timeout=10)
    assert msg["embeds"][0]["fields"]


async def test_dropped_connection_resumes_and_answers(fake, bot):
    await fake.drop_gateway()
    await fake.wait_until(lambda: fake.resumes == 1, timeout=10, what="RESUME")
    await answered(fake)
    assert fake.identifies == 1


@pytest.mark.parametrize("code", [4000, 4009, 1001])
async def test_resumable_close_codes(fake, bot, code):
    await fake.close_gateway(code)
    await fake.wait_until(lambda: fake.resumes == 1, timeout=10, what="RESUME")
    await answered(fake)


async def test_event_sent_while_disconnected_is_replayed_on_resume(fake, bot):
    await fake.drop_gateway()
    await fake.wait_until(lambda: fake.ws is None, what="disconnect")
    inter = await fake.slash("ask", question=QUESTION)  # queued: replayed after RESUME
    assert (await fake.answer_to(inter, timeout=10))["embeds"]


async def test_invalid_session_identifies_again(fake, bot):
    await fake.invalid_session(resumable=False)
    await fake.wait_ready(identifies=2)
    await answered(fake)


async def test_reconnect_request(fake, bot):
    await fake.request_reconnect()
    await fake.wait_until(lambda: fake.resumes == 1, timeout=10, what="RESUME")
    await answered(fake)
