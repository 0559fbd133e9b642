"""A first pass over Discord faults through the fake's knobs (the hardening issue extends these)."""
from __future__ import annotations

import logging

from fake_discord.harness import assert_all_payloads_safe, bot, fake  # noqa: F401

QUESTION = "Who paid for Alice Johnson's legal team?"


async def test_rate_limited_callback_is_retried(fake, bot):
    fake.rate_limit(r"/callback$", retry_after=0.05)
    inter = await fake.slash("ask", question=QUESTION)
    cb = await fake.wait_for("POST", rf"^/interactions/{inter.id}/", count=2)
    assert cb.status == 200 and cb.json["data"]["embeds"]


async def test_global_rate_limit_on_a_channel_reply_is_waited_out(fake, bot):
    fake.rate_limit(r"^/channels/\d+/messages$", retry_after=0.05, global_=True)
    await fake.message(QUESTION, mention_bot=True)
    reply = await fake.wait_for("POST", r"^/channels/\d+/messages$", count=2)
    assert reply.status == 200 and reply.json["embeds"]


async def test_server_error_on_a_reply_is_retried(fake, bot):
    fake.server_error(r"^/channels/\d+/messages$", status=502)
    await fake.message(QUESTION, mention_bot=True)
    reply = await fake.wait_for("POST", r"^/channels/\d+/messages$", count=2)
    assert reply.status == 200


async def test_expired_interaction_is_logged_and_the_bot_carries_on(fake, bot, caplog):
    faults = fake.expire_interactions(times=1)
    with caplog.at_level(logging.WARNING):
        inter = await fake.slash("ask", question=QUESTION)
        await fake.wait_for("POST", rf"^/interactions/{inter.id}/")
        await fake.wait_until(lambda: any("expired before the answer" in r.getMessage() for r in caplog.records),
                              what="log line")
    assert faults[0].hits == 1
    assert (await fake.answer_to(await fake.slash("ask", question=QUESTION)))["embeds"]  # still answering


async def test_no_permission_to_reply_is_logged_not_raised(fake, bot, caplog):
    fake.forbid(r"^/channels/\d+/messages$")
    with caplog.at_level(logging.WARNING):
        await fake.message(QUESTION, mention_bot=True)
        await fake.wait_until(lambda: any("no permission to reply" in r.getMessage() for r in caplog.records),
                              what="permission log")
    await fake.message(QUESTION, mention_bot=True)
    reply = await fake.wait_for("POST", r"^/channels/\d+/messages$", count=2)
    assert reply.status == 200
    assert_all_payloads_safe(fake)
